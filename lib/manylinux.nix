# The manylinux_2_28 stdenv: kernels built for Linux must run on any
# distribution that manylinux_2_28 wheels run on, so they are compiled the way
# the manylinux_2_28 images compile: with an AlmaLinux 8 gcc-toolset against
# glibc 2.28 and AlmaLinux 8's libstdc++ (newer C++ runtime parts are linked
# statically through gcc-toolset's libstdc++_nonshared.a).
#
#   1. every RPM of lib/manylinux-2.28.json is a fixed-output download;
#   2. the RPMs are unpacked and merged into one tree laid out like an
#      unwrapped gcc (compiler, binutils, libstdc++ headers and linker script);
#   3. glibc 2.28 is built from source: AlmaLinux's own glibc has the FHS
#      loader paths (/lib64 ...) built in, which do not exist in the Nix store;
#   4. binutils and gcc are wrapped against that glibc and combined with the
#      package set's stdenv (`overrideCC`).
#
# Every step is a function of the package set and the JSON data, so it
# evaluates without network access; building it needs the RPMs and the glibc
# tarball, whose hashes are recorded in the JSON file only once verified. Until
# then, building stops with an error naming the missing pin.
{ pkgs, system }:
let
  util = import ./util.nix;
  data = util.readJSON "manylinux-2.28";
  arch = builtins.head (builtins.split "-" system);
  rpms =
    data.rpms.${arch}
      or (throw "kernel-builder: manylinux_2_28: no AlmaLinux 8 packages are listed for '${arch}' in lib/manylinux-2.28.json");

  rpmFile = rpm: "${rpm.name}-${rpm.version}.${arch}.rpm";
  rpmUrl = rpm: "${data.mirror}/${rpm.repo}/${arch}/os/Packages/${rpmFile rpm}";

  fetchRpm =
    rpm:
    if rpm ? sha256 then
      pkgs.fetchurl {
        url = rpmUrl rpm;
        inherit (rpm) sha256;
        name = builtins.replaceStrings [ "+" ] [ "x" ] (rpmFile rpm);
      }
    else
      throw "kernel-builder: manylinux_2_28: no sha256 is recorded for ${rpmFile rpm} in lib/manylinux-2.28.json (fetch ${rpmUrl rpm}, verify it against the repository metadata, then add its sha256)";

  toolset = data.gcc-toolset;
  toolsetRoot = "opt/rh/gcc-toolset-${toolset}/root/usr";
  gccVersion = (builtins.head (builtins.filter (r: r.name == "gcc-toolset-${toolset}-gcc") rpms)).version;

  gccUnwrapped = pkgs.stdenvNoCC.mkDerivation {
    pname = "gcc-toolset-${toolset}-unwrapped";
    version = builtins.head (builtins.split "-" gccVersion);
    srcs = map fetchRpm rpms;
    nativeBuildInputs = [ pkgs.rpmextract ];
    dontConfigure = true;
    dontBuild = true;
    unpackPhase = ''
      mkdir root && cd root
      for rpm in $srcs; do rpmextract "$rpm"; done
    '';
    installPhase = ''
      mkdir -p $out
      cp -a ${toolsetRoot}/. $out/
      # The base system's C++ runtime and libgcc: what manylinux_2_28 guarantees.
      for dir in usr/lib64 lib64 usr/lib lib; do
        if [ -d "$dir" ]; then mkdir -p $out/lib && cp -a "$dir"/. $out/lib/; fi
      done
    '';
    passthru = {
      isGNU = true;
      langC = true;
      langCC = true;
      targetPrefix = "";
    };
  };

  glibc = pkgs.stdenv.mkDerivation {
    pname = "glibc";
    version = data.glibc.version;
    src =
      if data.glibc ? sha256 then
        pkgs.fetchurl {
          inherit (data.glibc) url sha256;
        }
      else
        throw "kernel-builder: manylinux_2_28: no sha256 is recorded for glibc ${data.glibc.version} (${data.glibc.url}) in lib/manylinux-2.28.json";
    # glibc must be built out of tree, with its own minimum kernel version.
    preConfigure = ''
      mkdir build && cd build
      configureScript=../configure
    '';
    configureFlags = [
      "--enable-kernel=3.10.0"
      "--disable-werror"
      "--disable-profile"
      "--enable-stack-protector=strong"
      "--enable-bind-now"
    ];
    enableParallelBuilding = true;
    hardeningDisable = [ "all" ];
  };

  bintools = pkgs.wrapBintoolsWith {
    bintools = gccUnwrapped;
    libc = glibc;
  };

  cc = pkgs.wrapCCWith {
    cc = gccUnwrapped;
    libc = glibc;
    inherit bintools;
  };
in
{
  inherit
    gccUnwrapped
    glibc
    cc
    fetchRpm
    rpmUrl
    ;
  glibcVersion = data.glibc.version;
  gccToolset = toolset;
  rpmUrls = map rpmUrl rpms;
  rpmSources = map fetchRpm rpms;
  rpmNames = map (r: r.name) rpms;
  stdenv = pkgs.overrideCC pkgs.stdenv cc;
}
