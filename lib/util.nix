# Small helpers on top of builtins.
#
# lib/ deliberately depends on nothing but builtins and a handful of package
# set attributes (see docs/nix.md), so that it evaluates against the real
# nixpkgs as well as against the tiny package sets used in offline tests.
let
  inherit (builtins)
    attrNames
    concatMap
    elemAt
    filter
    foldl'
    length
    listToAttrs
    replaceStrings
    sort
    splitVersion
    ;
in
rec {
  # The JSON files of lib/ (the data shared with the Python packages).
  readJSON = name: builtins.fromJSON (builtins.readFile (./. + "/${name}.json"));

  optional = cond: value: if cond then [ value ] else [ ];
  optionals = cond: values: if cond then values else [ ];
  optionalString = cond: text: if cond then text else "";
  optionalAttrs = cond: set: if cond then set else { };

  unique = foldl' (acc: x: if builtins.elem x acc then acc else acc ++ [ x ]) [ ];

  filterAttrs =
    pred: set:
    listToAttrs (
      concatMap (name: optional (pred name set.${name}) {
        inherit name;
        value = set.${name};
      }) (attrNames set)
    );

  genAttrs =
    names: f:
    listToAttrs (
      map (name: {
        inherit name;
        value = f name;
      }) names
    );

  # { name = value; } from a list of items.
  attrsFromList =
    nameOf: valueOf: items:
    listToAttrs (
      map (item: {
        name = nameOf item;
        value = valueOf item;
      }) items
    );

  sortStrings = sort builtins.lessThan;

  # "2.12.0" -> "2.12"
  majorMinor =
    version:
    let
      parts = splitVersion version;
    in
    if length parts < 2 then version else "${elemAt parts 0}.${elemAt parts 1}";

  # Compare two versions on their major.minor part only (like the Python side,
  # which compares `release[:2]`): -1, 0 or 1.
  compareMajorMinor = a: b: builtins.compareVersions (majorMinor a) (majorMinor b);

  # Inclusive bounds, each possibly null.
  withinBounds =
    minver: maxver: version:
    (minver == null || compareMajorMinor version minver >= 0)
    && (maxver == null || compareMajorMinor version maxver <= 0);

  # "12.6" -> "126", "2025.3" -> "20253"
  stripDots = replaceStrings [ "." ] [ "" ];

  # "12.6" -> "12_6"
  underscoreDots = replaceStrings [ "." ] [ "_" ];

  # A value from an attribute path, or a default.
  attrByPath =
    path: default: set:
    if path == [ ] then
      set
    else
      let
        name = builtins.head path;
      in
      if builtins.isAttrs set && set ? ${name} then
        attrByPath (builtins.tail path) default set.${name}
      else
        default;

  # Only letters, digits and '_' (the ops namespace is part of a module name).
  sanitizeId = id: replaceStrings [ "-" "." "+" "/" "=" ] [ "_" "_" "_" "_" "_" ] id;

  # Shell-quote one word.
  escapeShellArg = arg: "'${replaceStrings [ "'" ] [ "'\\''" ] (toString arg)}'";
  escapeShellArgs = args: builtins.concatStringsSep " " (map escapeShellArg args);

  # Keep the elements for which pred holds, and say how many were dropped.
  countIf = pred: list: length (filter pred list);
}
