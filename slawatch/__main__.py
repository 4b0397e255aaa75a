"""`python -m slawatch` is the same as the `slawatch` command."""

from slawatch.cli import main

if __name__ == "__main__":
    main(prog_name="slawatch")
