"""``python -m oxalate``: the command line (:mod:`oxalate.cli`)."""

from oxalate.cli import main

if __name__ == "__main__":
    main()
