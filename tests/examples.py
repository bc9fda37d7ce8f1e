"""What property-based tests share: each drawn example's rows undone afterwards."""

from django.db import transaction


class rolled_back(transaction.Atomic):
    """One example's rows, undone afterwards so the next example starts from the fixture's."""

    def __init__(self) -> None:
        super().__init__(using=None, savepoint=True, durable=False)

    def __exit__(self, *exc) -> None:
        transaction.set_rollback(True)
        super().__exit__(*exc)
