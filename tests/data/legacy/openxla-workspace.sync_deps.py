#!/usr/bin/env python
### AUTO-GENERATED: DO NOT EDIT
### Casual developers and CI bots run this for a quick checkout of the deps.
### For cross-repo work use the 'openxla-workspace' dev tool.
### Update with: openxla-workspace pin

PINNED_VERSIONS = {
  "iree": "c35c88e66f736bbd7da84bf099e17a7bce7de5db",
  "xla": "97c308d02d26fafc57f6969040425988462db49c",
  "jax": "364a245ab2fcc0a7c5187234e94c1a3a8d464c39"
}

ORIGINS = {
  "iree": "https://github.com/openxla/iree.git",
  "jax": "https://github.com/google/jax.git",
  "xla": "https://github.com/openxla/xla.git"
}

SUBMODULES = {
  "iree": 1
}



### Update support:

import argparse
import subprocess
from pathlib import Path


def main():
  # (Test fixture: the real file checks each dep out here; this one must never run.)
  Path(__file__).with_name("EXECUTED").write_text("ran")
  subprocess.run(["false"])


if __name__ == "__main__":
  main()
