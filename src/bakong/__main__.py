"""`python -m bakong` is the `bakong` command (the local network starts its nodes this way)."""

from bakong import lifeline
from bakong.cli import main

lifeline.watch()
main()
