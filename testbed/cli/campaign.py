"""placeholder"""


def add_parser(sub, formatter):
    pass


def run(args):
    return 0
