"""The channels a code goes out on: messages (SMS, voice, WhatsApp, email), phone numbers and email
addresses, and the providers (providers/) that send them."""
