"""RedisRateLimiter: one send rate for a whole fleet, shared through Redis (extra ``[redis]``).

Every client of every process that uses the same Redis and ``key`` shares one schedule at the
fleet's current rate and one rate controller: a throttle any member sees feeds the one
controller, and the fleet is cut once per congestion event. Use one key per account and
Region (the service's quota is per account and Region); ``RedisLimiters`` derives that key
from the pair, as a QConnectRouter's ``rate_limiter_for``.

How a send goes (``_sharedbucket.lua`` is the decision; its Python twin, the test oracle, is
``tests/_sharedbucket.py``):

- ``acquire`` is one EVALSHA: the script reads the server's ``TIME``, applies the outcomes
  this member batched since its last call, and reserves a slot on the fleet's virtual
  schedule. The member sleeps locally until the slot and sends: one round trip per send.
  Each member books ``ahead`` sends at a time (the others wait in-process), so the fleet's
  queue is at most members x ``ahead`` deep; a slot further than ``horizon`` away is asked
  for again when its turn nears (a second call, at low rates or in large fleets only).
- A cut is published (Redis pub/sub, one connection per limiter): a member waiting for a
  slot booked before it books again at once (a second call, on cuts only), so the bookings
  made at the old rate do not leave at it into a service already throttling. Without the
  notice (pub/sub unavailable) pacing is the same, only slower to follow a cut.
- ``release`` is synchronous. Acceptances wait for the next call (they only feed a rate
  measure; one send late changes nothing). A throttle is sent at once, from a task the
  limiter owns, with whatever else is batched: the rest of the fleet must slow down before
  its next sends, not after this member's.
- Redis is never a new way to fail. Every call has a short timeout (``timeout``, 50 ms); when
  Redis is unreachable, slow or answers an error, the limiter paces in-process at once (an
  ``AdaptiveRateLimiter`` with the same constants, whose controller heard this member's
  outcomes all along; one WARNING for the limiter's life, DEBUG after), probes Redis at most every
  ``probe_interval`` seconds from a task it owns, and rejoins the shared rate once Redis
  answers. Sends are never refused nor repeated because of Redis: only their pacing changes.
"""

from __future__ import annotations

from ._limiter import RedisPermit, RedisRateLimiter
from ._pairs import RedisLimiters
from ._script import fleet_controller

__all__ = ["RedisLimiters", "RedisPermit", "RedisRateLimiter", "fleet_controller"]

for _value in (RedisLimiters, RedisPermit, RedisRateLimiter, fleet_controller):
    _value.__module__ = __name__  # reprs, docs and tracebacks name the public home
del _value
