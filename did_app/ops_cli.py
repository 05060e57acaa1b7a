"""Operations commands: scheduler, tick, backup (interfaces.md)."""


def register(app) -> None:
    pass
