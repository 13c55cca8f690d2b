"""``python -m ndgrad tour`` runs the guided tour; ``python -m ndgrad`` lists the commands."""
import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["tour"]:
        from .tour import main as tour
        tour()
        return 0
    print("usage: python -m ndgrad tour    # a guided walk through autograd with ndgrad")
    return 0 if not argv else 2


if __name__ == "__main__":
    sys.exit(main())
