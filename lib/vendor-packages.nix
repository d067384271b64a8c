# ROCm and XPU (Intel oneAPI) toolkits as repackaged vendor package sets.
#
# Neither toolkit is part of nixpkgs in the form kernels need, so they are
# made from the vendors' RPMs, the same way as the manylinux_2_28 compiler:
#
#   1. every RPM listed in lib/rocm-packages.json / lib/xpu-packages.json is a
#      fixed-output download pinned by its sha256;
#   2. the RPMs of one package (runtime and -devel) are unpacked with
#      rpmextract and their install prefix (/opt/rocm-<release>, or each
#      oneAPI component's versioned directory) is merged into $out;
#   3. autoPatchelfHook points the ELF files at the libraries of the
#      package's dependencies, of the package set (zlib, numactl, ...) and of
#      the C++ runtime;
#   4. the names lib/toolkits.nix uses that are not single packages
#      (`clr`, `rocthrust`, `hipcub`, `oneapi-dpcpp-cpp`, `oneapi-mkl`) are
#      merged trees of packages and everything they depend on.
#
# Everything here is a function of the package set and the JSON data, so it
# evaluates without network access. A toolkit without recorded hashes is an
# evaluation error that names what is missing, never a download with a
# guessed hash.
{ pkgs, system }:
let
  util = import ./util.nix;
  inherit (builtins)
    attrNames
    concatStringsSep
    filter
    genericClosure
    hasAttr
    map
    mapAttrs
    ;

  rocmData = util.readJSON "rocm-packages";
  xpuData = util.readJSON "xpu-packages";

  # The C++ runtime (libstdc++, libgcc_s) that vendor binaries load. A package
  # set without a compiler (lib/host-pkgs.nix) has none to offer.
  ccLibs =
    let
      cc = pkgs.stdenv.cc or null;
    in
    if cc == null || !(cc ? cc) then [ ] else [ (cc.cc.lib or cc.cc) ];

  # How the two vendors differ.
  vendors = {
    rocm = {
      title = "ROCm";
      file = "lib/rocm-packages.json";
      data = rocmData;
      attrPrefix = "rocmPackages_";
      # ROCm's RPM requirements form a tree: a package carries them along
      # (CMake configs such as hipblas' find hipblas-common through them), and
      # its libraries resolve against them.
      propagateDeps = true;
      # Everything of a ROCm release lives under /opt/rocm-<release>. Links
      # into other packages of the release dangle in one package but resolve
      # in the merged trees, so they stay.
      install = toolkit: ''
        if [ -d ${toolkit.prefix} ]; then
          cp -a ${toolkit.prefix}/. "$out"/
          chmod -R u+w "$out"
        fi
      '';
      keepDanglingLinks = true;
    };
    xpu = {
      title = "XPU (Intel oneAPI)";
      file = "lib/xpu-packages.json";
      data = xpuData;
      attrPrefix = "xpuPackages_";
      # oneAPI's RPM requirements are not carried along: together with the
      # libraries the runtime packages load from each other (OpenMP and the
      # SYCL runtime) they form cycles, which derivations cannot express.
      # Only the packages listed under 'needs' are link inputs; the merged
      # trees hold everything else.
      propagateDeps = false;
      # Every component installs into <prefix>/<component>/<version>/; the
      # versioned directories are merged into one tree, as in oneAPI's
      # unified layout (bin/, lib/, include/, ...). `latest` links and the
      # environment scripts at the top are not needed.
      install = toolkit: ''
        for dir in ${toolkit.prefix}/*/*; do
          case "''${dir##*/}" in
            [0-9]*)
              if [ -d "$dir" ] && [ ! -L "$dir" ]; then
                cp -a "$dir"/. "$out"/
                chmod -R u+w "$out"
              fi
              ;;
          esac
        done
        # Links into oneAPI's `latest` directories, which the merged layout
        # does not have.
        find "$out" -xtype l -delete
      '';
      keepDanglingLinks = false;
    };
  };

  # RPM names may hold characters the store does not allow in names.
  storeName = url: builtins.replaceStrings [ "+" "~" ] [ "x" "-" ] (baseNameOf url);

  fetchRpm =
    rpm:
    pkgs.fetchurl {
      inherit (rpm) url sha256;
      name = storeName rpm.url;
    };

  # The package set of one pinned toolkit.
  mkToolkit =
    vendor: version: toolkit:
    let
      omitted = toolkit.omitted or { };
      known = name: !(hasAttr name omitted);
      member =
        from: name:
        set.${name}
          or (throw "kernel-builder: ${vendor.title} ${version}: '${from}' refers to '${name}', which ${vendor.file} does not list");
      systemLibrary =
        from: name:
        pkgs.${name}
          or (throw "kernel-builder: ${vendor.title} ${version}: ${from} needs '${name}' from the package set (the flake's nixpkgs input), which has none");

      mkPackage =
        name: entry:
        let
          rpms = map fetchRpm entry.rpms;
          deps = filter known entry.deps;
        in
        pkgs.stdenv.mkDerivation {
          pname = name;
          inherit (entry) version;
          srcs = rpms;
          nativeBuildInputs = [
            pkgs.rpmextract
            pkgs.autoPatchelfHook
          ];
          buildInputs =
            ccLibs
            ++ map (systemLibrary name) (toolkit.libraries ++ entry.libraries or [ ])
            ++ map (member name) (entry.needs or [ ]);
          propagatedBuildInputs = if vendor.propagateDeps then map (member name) deps else [ ];

          dontConfigure = true;
          dontBuild = true;
          # Stripping vendor binaries can break them; they come stripped anyway.
          dontStrip = true;
          dontCheckForBrokenSymlinks = vendor.keepDanglingLinks;

          unpackPhase = ''
            runHook preUnpack
            mkdir rpms && cd rpms
            for rpm in $srcs; do rpmextract "$rpm"; done
            runHook postUnpack
          '';
          installPhase = ''
            runHook preInstall
            mkdir -p "$out"
            ${vendor.install toolkit}
            runHook postInstall
          '';
          autoPatchelfIgnoreMissingDeps = toolkit.ignoreMissing ++ entry.ignoreMissing or [ ];

          passthru = {
            inherit rpms deps;
            rpmNames = map (rpm: baseNameOf rpm.url) entry.rpms;
          };
        };

      packages = mapAttrs mkPackage toolkit.packages;

      # A package and everything it requires, transitively.
      closure =
        from: names:
        map (item: item.key) (genericClosure {
          startSet = map (name: { key = name; }) names;
          operator =
            item:
            map (name: { key = name; }) (
              filter known
                (
                  toolkit.packages.${item.key}
                    or (throw "kernel-builder: ${vendor.title} ${version}: '${from}' refers to '${item.key}', which ${vendor.file} does not list")
                ).deps
            );
        });

      # A merged tree: a copy, not links, because the compilers (clang,
      # hipcc, icpx) find their headers, device libraries and CMake files
      # relative to their real location.
      mkJoin =
        name: members:
        let
          names = closure name members;
          parts = map (member name) names;
        in
        pkgs.runCommand "${name}-${toolkit.release}"
          {
            passthru = {
              members = names;
              rpms = builtins.concatLists (map (part: part.rpms) parts);
            };
          }
          ''
            mkdir -p "$out"
            for part in ${concatStringsSep " " (map toString parts)}; do
              cp -a "$part"/. "$out"/
              chmod -R u+w "$out"
            done
            # Each package's own propagation files; the tree holds everything.
            rm -rf "$out/nix-support"
          '';

      joins = mapAttrs mkJoin (toolkit.attributes or { });

      set = packages // joins;
    in
    if system != toolkit.system then
      throw "kernel-builder: ${vendor.title} ${version} is packaged for ${toolkit.system} only (${vendor.file}), not ${system}"
    else
      set;

  pinned = vendor: mapAttrs (mkToolkit vendor) vendor.data.toolkits;

  # The package set of a toolkit, or an evaluation error that says what is
  # missing. `what` names the build that needs it.
  toolkitFor =
    vendor: version: what:
    let
      sets = pinned vendor;
      attr = vendor.attrPrefix + util.underscoreDots version;
      reason = vendor.data.unpinned.${version} or "no entry for ${vendor.title} ${version}";
    in
    sets.${version} or (throw ''
      kernel-builder: ${what} needs ${vendor.title} ${version}, but no packages are pinned for it:
        ${vendor.file}: ${reason}.
      Record the RPMs' URLs, sha256 hashes and dependencies there (pinned ${vendor.title} toolkits: ${
        concatStringsSep ", " (attrNames sets)
      }), or let the package set provide '${attr}' (an overlay on nixpkgs).'');
in
{
  # { "<version>" = { <package or merged tree> = derivation; ... }; } of the
  # pinned toolkits.
  rocm = pinned vendors.rocm;
  xpu = pinned vendors.xpu;

  rocmFor = toolkitFor vendors.rocm;
  xpuFor = toolkitFor vendors.xpu;
}
