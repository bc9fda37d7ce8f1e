from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from segments.models import Segment

from .models import Campaign, EmailTemplate


class EmailTemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = EmailTemplate
        fields = ["id", "name", "subject", "preheader", "html", "text", "language", "direction", "layout",
                  "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {
            "subject": {"help_text": _("May use variables, e.g. {{ contact.first_name|default:'friend' }}.")},
            "html": {"help_text": _("The body; checked on save: a syntax error or an unknown variable is a 400 "
                                    "naming the line.")},
        }


class CampaignSerializer(serializers.ModelSerializer):
    template = serializers.PrimaryKeyRelatedField(queryset=EmailTemplate.objects.all(), help_text=_(
        "Email template id."))
    segments = serializers.PrimaryKeyRelatedField(many=True, queryset=Segment.objects.all(), allow_empty=False,
                                                  help_text=_("Ids of the segments to send to."))
    exclude_segments = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Segment.objects.all(), required=False,
        help_text=_("Ids of segments whose members never get this campaign."))
    overdue = serializers.BooleanField(source="is_overdue", read_only=True, help_text=_(
        "Scheduled, and its time passed minutes ago without it starting: no worker or scheduler is running."))

    class Meta:
        model = Campaign
        fields = ["id", "name", "template", "segments", "exclude_segments", "from_name", "from_email", "reply_to",
                  "utm_source", "utm_medium", "utm_campaign", "cost", "scheduled_at", "status", "overdue",
                  "created_at", "updated_at", "started_at", "finished_at"]
        read_only_fields = ["status", "created_at", "updated_at", "started_at", "finished_at"]


class RescheduleSerializer(serializers.Serializer):
    scheduled_at = serializers.DateTimeField(help_text=_("The new time; it must be in the future."))


class CampaignStatsSerializer(serializers.Serializer):
    recipients = serializers.IntegerField(help_text=_("Messages created for the campaign (every recipient)."))
    sent = serializers.IntegerField()
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField(help_text=_("Not sent: no consent, unsubscribed, bounced, frequency cap…"))
    bounced = serializers.IntegerField()
    complaints = serializers.IntegerField()
    unsubscribes = serializers.IntegerField()
    opens = serializers.IntegerField(help_text=_("Human open events."))
    unique_opens = serializers.IntegerField(help_text=_("Messages with at least one human open."))
    machine_opens = serializers.IntegerField(help_text=_("Opens by privacy proxies, scanners and prefetch."))
    clicks = serializers.IntegerField(help_text=_("Human click events."))
    unique_clicks = serializers.IntegerField(help_text=_("Messages with at least one human click."))
    open_rate = serializers.FloatField(allow_null=True, help_text=_(
        "unique_opens / delivered (delivered = sent − bounced); null when nothing was delivered."))
    click_rate = serializers.FloatField(allow_null=True, help_text=_("unique_clicks / delivered."))
    click_to_open_rate = serializers.FloatField(allow_null=True, help_text=_("unique_clicks / unique_opens."))


class RecipientCountSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text=_("Members of the segments, minus the excluded segments."))
    eligible = serializers.IntegerField(help_text=_("Of those, how many may get mail now (consent, status, "
                                                    "frequency cap)."))
