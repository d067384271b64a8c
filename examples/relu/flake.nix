{
  description = "Flake for the relu example kernel";

  inputs = {
    # The kernel-builder flake at the root of this repository.
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
