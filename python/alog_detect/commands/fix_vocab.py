"""`alog-detect fix-vocab`: convert a vocabulary keyed by template ids into one keyed by templates."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "fix-vocab"
HELP = "convert an id-keyed vocabulary ({\"E5\": 0}) into the template-keyed format, keeping indices"
ORDER = 35


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--parsed", required=True, type=Path, metavar="P",
                   help="parsed.parquet whose template_id -> template mapping the old vocabulary used")
    p.add_argument("--old-vocab", required=True, type=Path, metavar="V", help="the id-keyed vocab.json")
    p.add_argument("--output", required=True, type=Path, metavar="O", help="the converted vocab.json")


def run(args: argparse.Namespace) -> int:
    from ..vocab import FixVocabConfig, fix_vocab

    vocab = fix_vocab(FixVocabConfig(parsed=args.parsed, old_vocab=args.old_vocab, output=args.output))
    print(f"wrote {args.output} ({vocab.size} templates, sha256 {vocab.sha256})")
    return 0
