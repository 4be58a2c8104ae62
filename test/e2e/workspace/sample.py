# A small file the e2e suite completes in.
def add(a, b):
    return a + b


def fibonacci(n):
    if n < 2:
        return n
    return fibonacci(n - 1) + fibonacci(n - 2)


class Counter:
    def __init__(self):
        self.count = 0

    def increment(self):
