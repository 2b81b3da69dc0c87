"""A run's page: request, live status, timeline, output, and its actions."""

from __future__ import annotations

import json
from pathlib import Path

from django.test import Client
from django.utils import timezone

from runs.models import Run, RunStatus, StepStatus
from tests.conftest import Tenant
from tests.dashboard.conftest import PNG, Person, finished_run, make_run, make_screenshot, make_step


def page_of(person: Person, run: Run) -> str:
    response = person.client.get(f"/runs/{run.public_id}/")
    assert response.status_code == 200
    return response.content.decode()


def test_shows_the_request(member: Person, tenant: Tenant) -> None:
    run = make_run(
        tenant.organization,
        title="Cheapest plan",
        data_extraction_schema={"type": "object", "properties": {"price": {"type": "number"}}},
        error_code_mapping={"LOCKED": "account locked"},
        webhook_url="https://hooks.example.com/x",
    )
    page = page_of(member, run)
    for text in (
        "Cheapest plan",
        "Find the price of the cheapest plan",
        "https://example.com/",
        "&quot;price&quot;",
        "LOCKED",
        "https://hooks.example.com/x",
        "Max steps",
    ):
        assert text in page


def test_status_polls_while_active_and_stops_when_final(member: Person, tenant: Tenant) -> None:
    run = make_run(tenant.organization)
    run.mark_queued()
    run.mark_running()
    make_step(run, 1)
    make_step(run, 2, status=StepStatus.FAILED)
    make_step(run, 2, retry_index=1)  # a retry is not another step of max_steps
    page = page_of(member, run)
    assert 'aria-live="polite"' in page
    assert "Step 2 of 10" in page
    assert f'hx-get="/runs/{run.public_id}/?v=' in page
    assert 'id="cancel-run"' in page
    run.finish(RunStatus.COMPLETED, output={"price": 9})
    page = page_of(member, run)
    assert "hx-trigger" not in page.split('id="run-status"', 1)[1].split(">", 1)[0]
    assert 'id="cancel-run"' not in page


def test_a_canceled_run_polls_until_its_last_step_is_recorded(
    member: Person, tenant: Tenant
) -> None:
    run = make_run(tenant.organization)
    run.mark_queued()
    run.mark_running()
    step = make_step(run, 1, status=StepStatus.RUNNING)
    run.cancel()
    page = page_of(member, run)
    assert f'hx-get="/runs/{run.public_id}/?v=' in page  # the worker still writes the step
    assert "stopped" in page.split('id="run-timeline"', 1)[1]
    step.status, step.finished_at = StepStatus.COMPLETED, timezone.now()
    step.save()
    page = page_of(member, run)
    assert "hx-trigger" not in page.split('id="run-status"', 1)[1].split(">", 1)[0]


def test_poll_answers_204_when_nothing_changed(member: Person, tenant: Tenant) -> None:
    run = make_run(tenant.organization)
    run.mark_queued()
    page = page_of(member, run)
    version = page.split(f"/runs/{run.public_id}/?v=", 1)[1].split('"', 1)[0]
    same = member.htmx(f"/runs/{run.public_id}/?v={version}")
    assert same.status_code == 204
    run.mark_running()
    changed = member.htmx(f"/runs/{run.public_id}/?v={version}")
    assert changed.status_code == 200
    body = changed.content.decode()
    assert body.lstrip().startswith('<section id="run-status"')
    assert "Running" in body
    # The other parts of the page come along out of band.
    for part in ("run-actions", "run-facts", "run-result", "run-timeline"):
        assert f'id="{part}"' in body
    assert body.count('hx-swap-oob="true"') == 4
    assert "<html" not in body


def test_a_new_step_changes_the_version(member: Person, tenant: Tenant) -> None:
    run = make_run(tenant.organization)
    run.mark_queued()
    run.mark_running()
    page = page_of(member, run)
    version = page.split("?v=", 1)[1].split('"', 1)[0]
    make_step(run, 1)
    response = member.htmx(f"/runs/{run.public_id}/?v={version}")
    assert response.status_code == 200
    assert "Step 1 of 10" in response.content.decode()


def test_timeline_shows_actions_results_reasoning_and_screenshots(
    member: Person, tenant: Tenant, media: Path
) -> None:
    run = finished_run(tenant.organization, output={"ok": True})
    typed = {"ok": True, "message": "Typed into e1"}
    step = make_step(
        run,
        1,
        reasoning="The <form> is shown; fill it in.",
        actions=[
            {"type": "input_text", "element_id": "e1", "text": "alice", "result": typed},
            {"type": "click", "element_id": "e9", "result": {"ok": False, "error": "No e9"}},
        ],
        observation="[e1] input <b>Username</b>",
    )  # fmt: skip
    shot = make_screenshot(run, step)
    page = page_of(member, run)
    timeline = page.split('id="run-timeline"', 1)[1]
    assert "The &lt;form&gt; is shown; fill it in." in timeline
    assert "input_text" in timeline
    assert "Typed into e1" in timeline
    assert "No e9" in timeline
    assert "action-failed" in timeline
    assert "&lt;b&gt;Username&lt;/b&gt;" in timeline
    shot_url = f"/runs/{run.public_id}/artifacts/{shot.public_id}/"
    assert f'src="{shot_url}"' in timeline
    assert f'popovertarget="pop-{shot.public_id}"' in timeline
    # The image comes through the dashboard, never from a media URL.
    assert "/media/" not in page
    response = member.client.get(shot_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == PNG
    assert "sandbox" in response["Content-Security-Policy"]


def test_downloaded_files_are_served_as_attachments(
    member: Person, tenant: Tenant, media: Path
) -> None:
    from django.core.files.base import ContentFile

    from runs.models import Artifact, ArtifactKind

    run = finished_run(tenant.organization)
    artifact = Artifact(
        run=run, kind=ArtifactKind.DOWNLOAD, name="evil.html", content_type="text/html"
    )
    artifact.file.save("evil.html", ContentFile(b"<script>alert(1)</script>"), save=False)
    artifact.save()
    assert "evil.html" in page_of(member, run)
    response = member.client.get(f"/runs/{run.public_id}/artifacts/{artifact.public_id}/")
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Type"] == "application/octet-stream"


def test_missing_artifact_file_is_404(member: Person, tenant: Tenant, media: Path) -> None:
    run = finished_run(tenant.organization)
    shot = make_screenshot(run, None)
    shot.file.storage.delete(shot.file.name)
    assert (
        member.client.get(f"/runs/{run.public_id}/artifacts/{shot.public_id}/").status_code == 404
    )


def test_output_is_escaped_json_with_copy_and_download(member: Person, tenant: Tenant) -> None:
    output = {"note": "<script>alert(1)</script>", "price": 9.5}
    run = finished_run(tenant.organization, output=output)
    page = page_of(member, run)
    assert "<script>alert(1)</script>" not in page
    assert "&quot;note&quot;: &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;" in page
    assert 'data-copy="#run-output-text"' in page
    download = member.client.get(f"/runs/{run.public_id}/output.json")
    assert download["Content-Disposition"] == f'attachment; filename="{run.public_id}-output.json"'
    assert json.loads(download.content) == output


def test_failure_reason_and_error_codes(member: Person, tenant: Tenant) -> None:
    run = make_run(tenant.organization, error_code_mapping={"LOCKED": "the account is locked"})
    run.mark_queued()
    run.mark_running()
    run.finish(RunStatus.TERMINATED, failure_reason="Account <locked>", error_codes=["LOCKED"])
    page = page_of(member, run)
    assert "Terminated by the agent" in page
    assert "Account &lt;locked&gt;" in page
    assert "<code>LOCKED</code> — the account is locked" in page


def test_prompt_and_title_are_escaped(member: Person, tenant: Tenant) -> None:
    run = make_run(tenant.organization, prompt="<script>alert(1)</script>", title="<i>x</i>")
    page = page_of(member, run)
    assert "<script>alert(1)</script>" not in page
    assert "<i>x</i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_cancel(member: Person, tenant: Tenant) -> None:
    run = make_run(tenant.organization)
    run.mark_queued()
    response = member.client.post(f"/runs/{run.public_id}/cancel/")
    assert response["Location"] == f"/runs/{run.public_id}/"
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELED
    assert run.failure_reason == "Canceled from the dashboard by mia"
    assert member.client.get(f"/runs/{run.public_id}/cancel/").status_code == 405


def test_cancel_over_htmx_returns_the_live_status(member: Person, tenant: Tenant) -> None:
    run = make_run(tenant.organization)
    run.mark_queued()
    response = member.client.post(f"/runs/{run.public_id}/cancel/", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="run-status"')
    assert "Canceled" in body
    assert 'id="cancel-run"' not in body


def test_cancel_of_a_finished_run_changes_nothing(member: Person, tenant: Tenant) -> None:
    run = finished_run(tenant.organization)
    member.client.post(f"/runs/{run.public_id}/cancel/")
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED


def test_cancel_needs_csrf(member: Person, tenant: Tenant) -> None:
    run = make_run(tenant.organization)
    run.mark_queued()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(member.user)
    assert strict.post(f"/runs/{run.public_id}/cancel/").status_code == 403
    assert strict.post(f"/runs/{run.public_id}/cancel/", HTTP_HX_REQUEST="true").status_code == 403
    # With the token htmx sends from the page (hx-headers on <body>), it goes through.
    page = strict.get(f"/runs/{run.public_id}/").content.decode()
    token = page.split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]
    response = strict.post(
        f"/runs/{run.public_id}/cancel/", HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 200
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELED


def test_run_again_starts_the_same_request(member: Person, tenant: Tenant) -> None:
    run = finished_run(
        tenant.organization, prompt="Again please", data_extraction_schema={"type": "object"}
    )
    response = member.client.post(f"/runs/{run.public_id}/again/")
    new = Run.objects.exclude(pk=run.pk).get()
    assert response["Location"] == f"/runs/{new.public_id}/"
    assert new.run_request == run.run_request
    assert new.status == RunStatus.QUEUED


def test_run_again_with_a_closed_session_opens_the_form(member: Person, tenant: Tenant) -> None:
    from sessions.models import BrowserSession

    session = BrowserSession.objects.create(organization=tenant.organization)
    run = finished_run(tenant.organization, browser_session_id=session.public_id)
    session.close()
    response = member.client.post(f"/runs/{run.public_id}/again/", follow=True)
    assert response.redirect_chain[-1][0] == f"/runs/new/?from={run.public_id}"
    assert b"cannot start again" in response.content
    assert Run.objects.count() == 1


def test_edit_and_run_again_prefills_the_form(member: Person, tenant: Tenant) -> None:
    run = finished_run(
        tenant.organization,
        prompt="Prefilled prompt",
        data_extraction_schema={"type": "object"},
        max_steps=7,
    )
    page = member.client.get(f"/runs/new/?from={run.public_id}").content.decode()
    assert "Prefilled prompt</textarea>" in page
    assert "&quot;type&quot;: &quot;object&quot;" in page
    assert 'value="7"' in page


def test_webhook_section_only_when_deliveries_exist(member: Person, tenant: Tenant) -> None:
    run = finished_run(tenant.organization, webhook_url="https://hooks.example.com/")
    page = page_of(member, run)
    assert ("Webhook deliveries" in page) == hasattr(Run, "webhook_deliveries")
