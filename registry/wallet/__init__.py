"""The holder's wallet over HTTP: their licences, disputes and expiry reminders."""
