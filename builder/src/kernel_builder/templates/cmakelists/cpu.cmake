#@ kernel-options
