"""A flow, the contacts inside it, and the record that makes each of their steps run exactly once.

A flow's definition (trigger, steps, exit rules) is JSON checked by `definition`; each step is addressed
by its path in the tree ("0", "2.yes.1"), which stays stable while a flow runs. Editing an active flow
raises its version: contacts already inside go on from the step they are at if that path still exists in
the new steps, and finish the flow otherwise (see docs/automations.md).
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.models import Contact


class Flow(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        ARCHIVED = "archived", _("Archived")

    class Reentry(models.TextChoices):
        NEVER = "never", _("Never")
        ALWAYS = "always", _("Always")
        AFTER_DAYS = "after_days", _("After some days")

    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    trigger = models.JSONField(_("trigger"))
    steps = models.JSONField(_("steps"), default=list)
    reentry = models.CharField(_("re-entry"), max_length=10, choices=Reentry.choices, default=Reentry.NEVER)
    reentry_days = models.PositiveIntegerField(_("re-entry after days"), null=True, blank=True)
    exit_rules = models.JSONField(_("exit rules"), null=True, blank=True)
    holdout_percent = models.PositiveSmallIntegerField(_("holdout percent"), default=0)
    bypass_frequency_cap = models.BooleanField(_("bypass the frequency cap"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    preset = models.CharField(_("preset"), max_length=50, blank=True, help_text=_("The ready-made flow it came from."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    trigger_cursor = models.BigIntegerField(
        _("trigger cursor"), default=0, editable=False, help_text=_("The last segment entry already enrolled.")
    )

    class Meta:
        verbose_name = _("automation")
        verbose_name_plural = _("automations")
        constraints = [
            models.CheckConstraint(condition=Q(holdout_percent__lte=50), name="flow_holdout_at_most_half"),
        ]

    def __str__(self) -> str:
        return self.name


class Enrollment(models.Model):
    """One contact's way through one flow, from its trigger to completion or exit."""

    class State(models.TextChoices):
        ACTIVE = "active", _("In the flow")
        COMPLETED = "completed", _("Completed")
        EXITED = "exited", _("Exited")

    flow = models.ForeignKey(Flow, verbose_name=_("automation"), on_delete=models.CASCADE, related_name="enrollments")
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="flow_enrollments"
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.ACTIVE)
    step = models.CharField(_("current step"), max_length=100, blank=True, help_text=_("Its path, e.g. 2.yes.0."))
    run_at = models.DateTimeField(_("next run"), null=True, blank=True)
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    holdout = models.BooleanField(_("holdout"), default=False)
    trigger_key = models.CharField(
        _("trigger key"), max_length=100, blank=True, help_text=_("What enrolled it, e.g. the year of a birthday.")
    )
    flow_version = models.PositiveIntegerField(_("flow version"), default=1)
    entered_at = models.DateTimeField(_("entered at"), default=timezone.now)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    exited_at = models.DateTimeField(_("exited at"), null=True, blank=True)
    exit_reason = models.CharField(_("exit reason"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        constraints = [
            # At most one open enrollment per flow and contact (CONTRACT §6), whatever races.
            models.UniqueConstraint(
                fields=["flow", "contact"], condition=Q(state="active"), name="enrollment_one_open_per_flow"
            ),
            # A date or replenishment trigger enrolls once per occasion, even if its job runs twice.
            models.UniqueConstraint(
                fields=["flow", "contact", "trigger_key"], condition=~Q(trigger_key=""), name="enrollment_once_per_key"
            ),
        ]
        indexes = [
            # The engine's tick: due active enrollments, oldest first, read from this index alone.
            models.Index(fields=["run_at"], condition=Q(state="active"), name="enrollment_due_idx"),
            models.Index(fields=["flow", "state"], name="enrollment_flow_state_idx"),
            models.Index(fields=["contact", "state"], name="enrollment_contact_state_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.flow_id}:{self.contact_id}"


class StepRun(models.Model):
    """A step of an enrollment that has run: inserted before the step acts, unique per (enrollment, step), so
    a worker that dies and a retried task never run it twice. A send_email step's mail is a campaigns
    Message of the flow step's campaign, tied here."""

    class Outcome(models.TextChoices):
        DONE = "done", _("Done")
        SENT = "sent", _("Mail queued")
        SKIPPED = "skipped", _("Skipped")
        HOLDOUT = "holdout", _("Held out")
        YES = "yes", _("Branch: yes")
        NO = "no", _("Branch: no")

    enrollment = models.ForeignKey(
        Enrollment, verbose_name=_("enrollment"), on_delete=models.CASCADE, related_name="step_runs"
    )
    flow = models.ForeignKey(Flow, verbose_name=_("automation"), on_delete=models.CASCADE, related_name="step_runs")
    step = models.CharField(_("step"), max_length=100)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    detail = models.CharField(_("detail"), max_length=100, blank=True)
    message = models.OneToOneField(
        "campaigns.Message",
        verbose_name=_("message"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="step_run",
    )
    ran_at = models.DateTimeField(_("ran at"), default=timezone.now)

    class Meta:
        verbose_name = _("step run")
        verbose_name_plural = _("step runs")
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "step"], name="steprun_once_per_enrollment_step"),
        ]
        indexes = [models.Index(fields=["flow", "step", "outcome"], name="steprun_flow_step_idx")]

    def __str__(self) -> str:
        return f"{self.enrollment_id}@{self.step}"


class FlowMail(models.Model):
    """The campaign behind one send_email step: its messages, links, opens, clicks and money are counted
    there, by the same code as a campaign's. Made when the flow first sends from that step."""

    flow = models.ForeignKey(Flow, verbose_name=_("automation"), on_delete=models.CASCADE, related_name="mails")
    step = models.CharField(_("step"), max_length=100)
    campaign = models.OneToOneField(
        "campaigns.Campaign", verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="flow_mail"
    )

    class Meta:
        verbose_name = _("automation mail")
        verbose_name_plural = _("automation mails")
        constraints = [models.UniqueConstraint(fields=["flow", "step"], name="flowmail_one_per_step")]

    def __str__(self) -> str:
        return f"{self.flow_id}@{self.step}"
