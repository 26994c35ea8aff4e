"""Django's database sessions, with the two look-ups a sign-in does not need removed.

- A new key is 32 random characters (~190 bits); instead of asking the database whether it is
  taken first, the ``INSERT`` (``must_create``) refuses a duplicate and ``create()`` draws again.
- Deleting the old session when the key is cycled at sign-in is one ``DELETE``, not a
  ``SELECT`` followed by a ``DELETE``.

Server-side sessions stay: revoking them (sign-out, "Revoke MFA sessions") must take effect.
"""

from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.utils.crypto import get_random_string


class SessionStore(DatabaseSessionStore):
    def _get_new_session_key(self) -> str:
        return get_random_string(32, VALID_KEY_CHARS)

    def delete(self, session_key=None) -> None:
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        self.model.objects.filter(session_key=session_key).delete()
