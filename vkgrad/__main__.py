"""``python -m vkgrad info``: devices, shader build, default backend."""
import sys

from . import info


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] == "info":
        info()
        return 0
    print("usage: python -m vkgrad info   |   python -m vkgrad.bench --help", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
