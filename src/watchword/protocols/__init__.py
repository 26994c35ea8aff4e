"""How applications and network equipment rely on Watchword: the RADIUS server (``radius.py``)."""
