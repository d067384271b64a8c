{
  description = "Flake for the relu example kernel";

  inputs = {
    # The kernel-builder flake at the root of this repository. Nix releases
    # that cannot follow a relative path out of this directory (Nix 2.8) need
    # `--override-input kernel-builder path:<repository>` (docs/nix.md).
    kernel-builder.url = "path:../..";
  };

  outputs =
    {
      self,
      kernel-builder,
    }:
    kernel-builder.lib.genKernelFlakeOutputs {
      inherit self;
      path = ./.;
    };
}
