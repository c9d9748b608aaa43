"""Chat turns the benchmarks send: customer-service conversations written for this harness.

Customer and agent turns alternate; some carry personal data (names, e-mail
addresses, phone and card numbers, street addresses), some state the reason
for contact, and the sentiment ranges from angry to delighted, so every
analyser has real work on every turn.
"""

from __future__ import annotations

CONVERSATIONS: list[list[tuple[str, str]]] = [
    [
        ("CUSTOMER", "Hi, I was charged twice for my order last week and I need a refund for the duplicate payment."),
        ("AGENT", "Hello, I'm sorry about that. Can you confirm the email address on the account?"),
        ("CUSTOMER", "It's dana.whitfield@example.com and my phone is 415-555-0142."),
        ("AGENT", "Thank you Dana. I can see two identical charges of $84.20 on March 3rd."),
        ("CUSTOMER", "This is really frustrating, it's the second time this has happened."),
        ("AGENT", "I understand. I have issued a refund for the duplicate charge; it will reach your card "
                  "in 3 to 5 days."),
        ("CUSTOMER", "Great, thank you so much for sorting that out quickly!"),
        ("AGENT", "You're welcome. Is there anything else I can help with today?"),
    ],
    [
        ("CUSTOMER", "My internet has been down since yesterday evening and I work from home."),
        ("AGENT", "I'm sorry to hear that. Could you give me the account holder's name and the service address?"),
        ("CUSTOMER", "Marcus Okafor, 1427 Birchwood Lane, Springfield."),
        ("AGENT", "Thanks Marcus. I see an outage in your area; engineers are on site now."),
        ("CUSTOMER", "How long will it take? I have already lost a full day of work because of this."),
        ("AGENT", "The estimate is about four hours. I can add a credit for the lost day to your next bill."),
        ("CUSTOMER", "Okay, that helps a bit. Please send the confirmation to marcus.o@mailbox.org."),
        ("AGENT", "Done. You will get an email shortly. Sorry again for the trouble."),
    ],
    [
        ("CUSTOMER", "I'd like to cancel my subscription, the app keeps crashing every time I open it."),
        ("AGENT", "I'm sorry the app has been unreliable. Which device and version are you using?"),
        ("CUSTOMER", "An older Android phone, version 4.2 of the app I think."),
        ("AGENT", "Version 4.3 fixed that crash. Would you like to try updating before cancelling?"),
        ("CUSTOMER", "Fine, I'll try it, but if it crashes again I want my money back."),
        ("AGENT", "Understood. I've noted that on your account so any agent can process the refund."),
    ],
    [
        ("CUSTOMER", "Hello, my card ending 4242 was declined at checkout but the money left my account."),
        ("AGENT", "Let me check. Can you read me the full card number so I can find the authorisation?"),
        ("CUSTOMER", "Sure, it's 4111 1111 1111 4242, expiry 09/28."),
        ("AGENT", "I see a pending authorisation that will drop off within 48 hours; you have not been charged."),
        ("CUSTOMER", "Oh good, that's a relief. Thanks for explaining."),
        ("AGENT", "My pleasure. Have a wonderful evening!"),
    ],
    [
        ("CUSTOMER", "The package I ordered never arrived and tracking says it was delivered on Monday."),
        ("AGENT", "I'm sorry. Could you confirm the order number and the delivery address?"),
        ("CUSTOMER", "Order 88231-B, to 52 Harbour Street, apartment 3, Portland, Oregon 97205."),
        ("AGENT", "Thank you. The courier photo shows a different door; I'll open an investigation and reship today."),
        ("CUSTOMER", "That's terrible service from the courier, but thank you for reshipping so fast."),
        ("AGENT", "You'll receive a new tracking number by text at the number ending 0199."),
    ],
]

TURNS: list[tuple[str, str]] = [turn for conversation in CONVERSATIONS for turn in conversation]
