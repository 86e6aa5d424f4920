"""Board pages (to be written)."""


def cs_board(request):
    raise NotImplementedError


def warehouse_board(request):
    raise NotImplementedError


def ops_board(request):
    raise NotImplementedError


def board_rows_fragment(request, board: str):
    raise NotImplementedError


def board_transition(request, number: str, action: str):
    raise NotImplementedError
