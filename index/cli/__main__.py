"""``python -m index.cli``: the ``feedsift`` command without its console script."""

from index.cli import main

main()
