#!/usr/bin/env python
### AUTO-GENERATED: DO NOT EDIT
### Casual developers and CI bots run this for a quick checkout of the deps.
### For cross-repo work use the 'shark-workspace' dev tool.
### Update with: shark-workspace pin

PINNED_VERSIONS = {
  "iree": "42ac74291a81f495d9b34fcf444bf4b23b5a7966",
}

ORIGINS = {
  "iree": "https://github.com/iree-org/iree.git",
}

SUBMODULES = {"iree"}

# Submodules of the deps above that this project never builds.
EXCLUDED_SUBMODULES = {
  "third_party/stablehlo",
  "third_party/torch-mlir",
}



### Update support:

import argparse
from pathlib import Path


def main():
  # (Test fixture: the real file checks each dep out here; this one must never run.)
  Path(__file__).with_name("EXECUTED").write_text("ran")


if __name__ == "__main__":
  main()
