"""金融無塵室 / the clean room: private set intersection with a partner (telecom, exchange)."""
