"""What every settled visit holds, asserted where results are made, not only documented.

For a visit the engine settles (amounts in fen; the balance is the personal account's):
1. fund + account + cash = total: every fen of the bill is paid, once;
2. no amount is negative: deductible, fund, account, cash, the balance after the visit;
3. the fund pays in-scope cost only, and not the deductible: deductible + fund <= in_scope;
4. the account pays at most its balance, which falls by what it paid:
   account <= balance before, balance after = balance before - account;
5. every fen the fund pays counts against the caps: the year's and the month's fund pay
   of the member's pools grew by the visit's fund pay (from nothing, in a new year or month).

`engine.settle` checks 1-4 for every visit it settles (a few comparisons: no cost the engine
benchmark can see); 5 sums the pools, which cost the Python engine 6-8% of a visit, so it is
checked where a settlement is recorded (the ledger: `check_pools`, beside a store's round
trip) and by the tests, not on every trial calculation. The replay's loop checks 1-4 for
every visit it settles (2-3% of the loop's time; the batch raises after the loop), not 5:
its pools are the engine's, which the replay is tested against visit by visit. A broken one raises
InvariantError: a change that breaks them fails loudly instead of paying wrong amounts. It is
raised, not asserted: `python -O` does not strip it.

`broken_invariant` is in the subset of Python numba compiles (the replay's loop calls it).
"""

from gongji.engine import layout as L

SUM, NEGATIVE, IN_SCOPE, ACCOUNT, POOLS = 1, 2, 3, 4, 5
INVARIANTS = {
    SUM: "fund + account + cash = total",
    NEGATIVE: "no amount negative (deductible, fund, account, cash, balance)",
    IN_SCOPE: "deductible + fund <= in_scope",
    ACCOUNT: "account <= balance before, balance after = balance before - account",
    POOLS: "the pools' fund pay this year and month grew by the visit's fund pay",
}


class InvariantError(AssertionError):
    """A settled visit that breaks an invariant of this module: a bug, not bad input."""


def broken_invariant(total, in_scope, deductible, fund, account, cash, before, after):
    """0 if a settled visit's figures hold invariants 1-4, else the first they break;
    `before` and `after` are the account balance."""
    if fund + account + cash != total:
        return SUM
    if deductible < 0 or fund < 0 or account < 0 or cash < 0 or after < 0:
        return NEGATIVE
    if deductible + fund > in_scope:
        return IN_SCOPE
    if account > before or after != before - account:
        return ACCOUNT
    return 0


KERNEL_FUNCTIONS = ("broken_invariant",)

_ANNUAL = slice(L.S_POOL + L.PU_ANNUAL, L.S_POOL + L.N_POOLS * L.PU_STRIDE, L.PU_STRIDE)
_MONTHLY = slice(L.S_POOL + L.PU_MONTHLY, L.S_POOL + L.N_POOLS * L.PU_STRIDE, L.PU_STRIDE)


def broken_pools(B, S, fund) -> int:
    """POOLS if the member's state before (B) and after (S) a visit does not count its fund
    pay against the pools (invariant 5), else 0."""
    year = sum(S[_ANNUAL]) - (sum(B[_ANNUAL]) if S[L.S_YEAR] == B[L.S_YEAR] else 0)
    month = sum(S[_MONTHLY]) - (sum(B[_MONTHLY]) if S[L.S_MONTH] == B[L.S_MONTH] else 0)
    return POOLS if year != fund or month != fund else 0


def check_pools(B, S, fund) -> None:
    """Raise InvariantError if a settled visit's fund pay is not counted against the member's
    pools (invariant 5); B and S are the member's state before and after it."""
    if broken_pools(B, S, fund):
        raise InvariantError(f"{INVARIANTS[POOLS]}: fund {fund}")


def check(B, S, total, in_scope, deductible, fund, account, cash) -> None:
    """Raise InvariantError if a settled visit breaks invariants 1-4; B and S are the member's
    state before and after it."""
    before, after = B[L.S_BALANCE], S[L.S_BALANCE]
    broken = broken_invariant(total, in_scope, deductible, fund, account, cash, before, after)
    if broken:
        raise InvariantError(
            f"{INVARIANTS[broken]}: total {total}, in_scope {in_scope}, deductible "
            f"{deductible}, fund {fund}, account {account}, cash {cash}, balance {before} -> "
            f"{after}"
        )
