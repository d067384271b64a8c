# This repository's Python packages, `kernels` and `kernel-builder`, built
# with the package set's Python. Both are regular Python packages, so a
# `python3.withPackages` environment can hold them next to Torch.
{ pkgs, src }:
let
  py = pkgs.python3.pkgs;
  projectOf = dir: (builtins.fromTOML (builtins.readFile (src + "/${dir}/pyproject.toml"))).project;

  # Only what the two packages are built from (never .venv, build outputs, ...).
  source = builtins.path {
    path = src;
    name = "kernel-builder-source";
    filter =
      path: type:
      let
        full = toString path;
        rel = builtins.substring (builtins.stringLength (toString src) + 1) (builtins.stringLength full) full;
        top = builtins.head (builtins.split "/" rel);
        base = baseNameOf path;
      in
      builtins.elem top [
        "python"
        "builder"
        "lib"
      ]
      && base != "__pycache__"
      && base != "tests"
      && builtins.match ".*\\.py[co]" base == null;
  };

  package =
    dir: extra:
    py.buildPythonPackage (
      {
        pname = (projectOf dir).name;
        version = (projectOf dir).version;
        pyproject = true;
        src = source;
        sourceRoot = "kernel-builder-source/${dir}";
        build-system = [ py.hatchling ];
        # nixpkgs may carry older releases of these; the lower bounds in
        # pyproject.toml are conservative.
        pythonRelaxDeps = true;
        doCheck = false;
        meta.mainProgram = (projectOf dir).name;
      }
      // extra
    );
in
rec {
  kernels = package "python" {
    dependencies = with py; [
      click
      huggingface-hub
      packaging
    ];
    pythonImportsCheck = [ "kernels" ];
  };

  kernel-builder = package "builder" {
    dependencies = [
      kernels
    ]
    ++ (with py; [
      click
      pyelftools
      scikit-build-core
      cmake
      ninja
      packaging
      huggingface-hub
      tomlkit
    ]);
    pythonImportsCheck = [ "kernel_builder" ];
  };
}
