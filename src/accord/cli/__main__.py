"""``python -m accord.cli``: the same as the ``accord`` console script."""

from accord.cli.main import entry

if __name__ == "__main__":
    entry()
