"""A purchase credited to a sent mail, written as `campaigns.reports.attribution` writes it."""

from campaigns.models import Campaign, Message
from campaigns.reports.models import Attribution


def credit(purchase, message: Message) -> Attribution:
    """The purchase credited to this message by a click at the purchase's time."""
    return Attribution.objects.create(
        purchase=purchase,
        message=message,
        campaign=message.campaign,
        contact=purchase.contact,
        touch=Attribution.Touch.CLICK,
        touched_at=purchase.purchased_at,
        purchased_at=purchase.purchased_at,
        total=purchase.total,
        channel=purchase.channel,
    )


def attribute(purchase, campaign: Campaign) -> Attribution:
    """A message of `campaign` sent to the buyer at the purchase's time, and the purchase credited to it."""
    message = Message.objects.create(
        campaign=campaign, contact=purchase.contact, status=Message.Status.SENT, sent_at=purchase.purchased_at
    )
    return credit(purchase, message)
