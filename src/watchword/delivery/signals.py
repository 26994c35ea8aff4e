"""Signals other capabilities listen to.

``call_finished(sender, call_ref, result, message_id)``: a verification call placed with
``delivery.phone.place_call`` has its result. ``call_ref`` is the caller's own id for the call
(given to ``place_call``); ``result`` is one of

- ``"confirmed"``: the person answered and pressed #;
- ``"fraud"``: the person answered and pressed 0# ("this wasn't me");
- ``"no_input"``: answered, but pressed nothing, or other keys;
- ``"failed"``: not answered, busy, or the call failed.

Sent exactly once per call, inside the transaction that records the result (``sender`` is
``PhoneMessage``): a receiver's writes commit with it, and a receiver that raises undoes it, so
the provider's callback fails and may be tried again. A repeated callback fires nothing.
"""

from django.dispatch import Signal

call_finished = Signal()
