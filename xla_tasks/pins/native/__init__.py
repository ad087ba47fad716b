"""Native pins: the files in which JAX, XLA, StableHLO, PyTorch/XLA and IREE pin their deps.

Readers and byte-exact writers for each format of contract 6.1, read as text (nothing is
executed). Each format module has a reader that records where a pin's bytes are (`sites`)
and a writer `write(text, pin, update) -> text` that reads the file again and replaces only
those bytes. Modules:

- `model`: NativePin, BadPin, PinUpdate; `files`: bounded UTF-8 reads inside the project
- `starlark`: tokens, constants, calls of Bazel files; `bazel`: files read as one unit
- formats: `constants` (starlark, workspace_hash), `blocks` (module_bazel, git_repository,
  http_archive), `torch` (torch_commit, torch_pin), `sha_file`, `gitlinks` (+ `gitindex`)
- `find`: where pins are looked for, in the work tree (`DiskTree`) or in a commit
  (`at_commit.CommitTree`, from git's objects); `agree`: grouping and agreement; `rewrite`:
  the writer for a pin's format; `sites`: spans and the one splice
- `urls`: matching pins to registry repos; `digest`: hex and SRI; `archive_hash`: the
  `.tar.gz` hash from a local clone

Nothing is imported here: each caller imports the module it uses, so that importing one
(`model`, for the pins' types) does not load every reader (`--help` stays fast).
"""
