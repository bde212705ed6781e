"""Gate and setup verbs: attesting a gate, and evaluating every automated gate, setup item
and script pin against the live environment."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from cockpit.engine.core import ActionRefused, SessionCore
from cockpit.engine.credentials import CredentialFailed
from cockpit.engine.setup import check_setup_item, dsn_passwords, with_entered_password
from cockpit.engine.steps import step_env
from cockpit.engine.upgrade_path import path_from, upgrade_target
from cockpit.errors import CockpitError
from cockpit.evidence.rehearsal import ProofItem, prove
from cockpit.probes.git_probe import git_dirty, git_head
from cockpit.probes.registry import run_probe
from cockpit.runbook.alembic_config import command_config
from cockpit.runbook.environment import environment_values, for_environment
from cockpit.runbook.model import (
    AttestationFileGate,
    AttestationGate,
    CommandStep,
    EnvVar,
    ProbeGate,
    Runbook,
)
from cockpit.runbook.paths import resolve
from cockpit.session import records, rules
from cockpit.session.layout import INPUTS
from cockpit.session.modes import make_folder
from cockpit.session.safefs import MissingPath, UnsafePath, read_named
from cockpit.session.store import write_atomic


def rehearsal_repo(runbook: Runbook, workdir: Path) -> Path:
    """The repository a `rehearsal.pass` gate looks at (its `repo`, else the working
    directory): a session records its HEAD there as it starts, for a later proof."""
    for gate in rules.gates(runbook):
        if isinstance(gate, ProbeGate) and gate.probe == rules.REHEARSAL_PROBE:
            return resolve(workdir, str(gate.args.get("repo", ".")))
    return workdir


class GateVerbs:
    """Attesting gates, confirming setup, the password, and every automated check before
    the first step."""

    def __init__(self, core: SessionCore) -> None:
        self.core = core

    def attest_gate(self, gate_id: str, reference: str) -> None:
        self.core.refuse_if(self.core.halted_reason())
        gate = self.core.item(gate_id)
        if not reference.strip():
            raise ActionRefused(f"gate '{gate_id}' needs a reference")
        if isinstance(gate, AttestationGate):
            self.core.refuse_if(rules.attestation_refusal(gate, reference, self.core.clock()))
            self.core.append(records.GateAttested(gate=gate_id, reference=reference.strip()))
        elif isinstance(gate, ProbeGate) and rules.asks_operator(self.core.state, gate):
            self._evaluate_probe_gate(gate, reference.strip())
        else:
            raise ActionRefused(f"gate '{gate_id}' is checked by the cockpit, not attested")

    def confirm_setup(self, item_id: str, note: str = "", assumed: bool = False) -> None:
        """The operator confirms a setup line the cockpit cannot check (a `manual` item in
        `[setup]`): required before GO, recorded with who, when and the note."""
        self.core.refuse_if(self.core.halted_reason())
        if self.core.state.ended:
            raise ActionRefused("the session has ended (decision recorded)")
        item = next((i for i in rules.setup_confirmations(self.core.runbook) if i.id == item_id),
                    None)
        if item is None:
            raise ActionRefused(f"'{item_id}' is not a setup line to confirm")
        if rules.setup_confirmed(self.core.state, item_id):
            raise ActionRefused(f"setup '{item_id}' is already confirmed")
        if assumed and self.core.runbook.production:
            raise ActionRefused(f"'{item_id}': a production runbook forbids auto-confirmation")
        given = {"note": note.strip()} if note.strip() and not assumed else {}
        self.core.append(records.SetupConfirmed(item=item_id, **given,
                                           **({"assumed": True} if assumed else {})))

    def enter_password(self, password: str) -> list[str]:
        """The database password, entered again before the first step (the one given was
        wrong, say): put into each DSN that takes one, kept in memory only and redacted from
        everything written; then every gate and setup item is checked again. Returns what
        is still open."""
        self.core.refuse_if(rules.password_refusal(self.core.runbook, self.core.state))
        if not password:
            raise ActionRefused("the password cannot be empty")
        # only the DSNs not checked yet or failing: one that passed keeps its own password
        targets = {i.name for i in rules.password_dsns(self.core.runbook)
                   if (s := self.core.state.setup.get(i.id)) is None or s.status != "passed"}
        env, changed = with_entered_password(self.in_environment(), self.core.env, password,
                                             targets)
        if not changed:
            raise ActionRefused("no DSN took the password: each is given in the environment "
                                "in key=value form, with its own password")
        self.core.add_secrets([password, *dsn_passwords(self.core.runbook, env)])
        self.core.env = env
        self.core.append(records.PasswordEntered(vars=changed))
        return self.evaluate_gates()

    def evaluate_gates(self) -> list[str]:
        """Evaluate every automated gate, setup item and script pin; returns what is open."""
        self.core.refuse_if(self.core.halted_reason())
        try:  # before any probe connects: a fetch of credentials, not a step
            self.core.refresh_credentials()
            no_password = None
        except CredentialFailed as exc:
            if self.core.state.steps:  # mid-cutover: the operator's to fix, never a halt
                raise ActionRefused(f"{exc}; nothing was checked again: fix it, then resume "
                                    "(the session is as it was)") from None
            no_password = str(exc)
        for gate in rules.gates(self.core.runbook):
            if isinstance(gate, AttestationFileGate):
                self._evaluate_file_gate(gate)
            elif isinstance(gate, ProbeGate) and not rules.asks_operator(self.core.state, gate):
                self._evaluate_probe_gate(gate, gate.expected)
        checks = rules.setup_checks(self.in_environment())
        env_names = [c.name for c in checks if isinstance(c, EnvVar)]
        for item in checks:
            ok, observed, detail = check_setup_item(item, self.core.workdir, self.core.env,
                                                    self._placeholder())
            if no_password and isinstance(item, EnvVar) and item.password_command:
                ok, detail = False, no_password
            state = self.core.state
            if state.environment is not None or state.environment_values:
                target = f"target {state.fleet.target}" if state.fleet else None
                named = " ".join(filter(None, (state.environment, target)))
                values = environment_values(self.core.runbook, state.environment,
                                            state.environment_values)
                detail = f"{detail} (environment {named}: {values})"  # checked against those
            over = self.core.state.workdir_override
            if over is not None and over.item == item.id:
                detail = f"{detail}; OVERRIDDEN: the runbook approves `{over.approved}`"
            ca_pins: dict[str, str] = {}
            if ok and isinstance(item, EnvVar):  # the string is right; is the link?
                ok, detail, ca_pins = self._live_dsn(item, detail, env_names)
            self.core.append(records.SetupChecked(item=item.id, ok=ok, observed=observed,
                                                  detail=detail, pins=ca_pins or None))
        pins = {script.path: script.sha256 for script in self.core.runbook.scripts}
        for path in rules.pinned_scripts(self.core.runbook):
            self._check_script(path, pins.get(path), listed=path in pins)
        still = rules.open_gates(self.core.runbook, self.core.state)
        # the check's verdict, one event: the GO (or NO-GO) the people who wait are told
        self.core.append(records.GatesChecked(go=not still, **({"open": still} if still
                                                                  else {})))
        return still

    def _live_dsn(self, item: EnvVar, detail: str, env_names: list[str]
                  ) -> tuple[bool, str, dict[str, str]]:
        """A DSN whose string is right, on live connections: its TLS (verify-full: chain,
        host, expiry, the CA), the link itself, then what its connections really get."""
        ok, detail, ca_pins = self._tls_verified(item, detail)
        if ok:
            live = run_probe("env.dsn", self.core.probe_context(), None, {
                "var": item.name, "database": item.database, "require": item.require,
                "same_as": env_names})
            ok, detail = live.ok, f"{detail}; {live.detail}"
            if not ok and item.password_command and "authentication failed" in live.detail:
                detail = (f"{detail}; the password came from password_command "
                          f"`{item.password_command}`: check what it prints for this role")
        if ok:
            ok, detail = self._connections_as_asked(item, detail)
        return ok, detail, ca_pins

    def _tls_verified(self, item: EnvVar, detail: str) -> tuple[bool, str, dict[str, str]]:
        """A verify-full DSN's certificates checked, and its CA file against the one this
        session first pinned (a changed one is named, loudly)."""
        from cockpit.probes.tlscheck import tls_verdict  # cryptography on demand

        end = rules.maintenance_window_end(self.core.runbook, self.core.state)
        verdict = tls_verdict(item.name, self.core.env[item.name], self.core.env, end,
                              self.core.workdir)
        if verdict is None:
            return True, detail, {}
        first: dict[str, str] = {}
        for checked in records.of_kind(self.core.store.events, records.SetupChecked):
            if checked.item == item.id:
                for path, digest in (checked.pins or {}).items():
                    first.setdefault(path, digest)
        changed = [f"WARNING the CA file {path} CHANGED since this session pinned it "
                   f"(sha256 {first[path][:16]}… now {digest[:16]}…): the server verified "
                   "against the new one — confirm with the provider that they rotated it"
                   for path, digest in verdict.pins.items()
                   if path in first and first[path] != digest]
        said = [detail, verdict.detail] if verdict.ok else [verdict.detail, detail]
        return verdict.ok, "; ".join([*said, *changed]), verdict.pins

    def _connections_as_asked(self, item: EnvVar, detail: str) -> tuple[bool, str]:
        """The DSN's path to the server, then each changing step's settings and run name
        read back through it as that step's connections would get them."""
        steps = rules.settings_steps(self.core.runbook)
        if not steps:  # nothing will change the database through it
            return True, detail
        # psycopg on demand: the screens open without a database library
        from cockpit.probes.readback import DROPPED
        from cockpit.probes.serverpath import (
            driver_verdict,
            path_verdict,
            role_and_server,
            role_defaults_cause,
            settings_verdict,
        )

        dsn = self.core.env[item.name]
        if (driver := driver_verdict(item.name, dsn)) is not None:
            return False, f"{driver.detail}; {detail}"
        path = path_verdict(item.name, dsn)
        if not path.ok:  # the cause first, what passed after it
            return False, f"{path.detail}; {detail}"
        from_role = rules.timeouts_from_role(self.core.runbook)
        checks = []
        for step in steps:
            env = step_env(self.core.env, step, "gate-readback", from_role=from_role)
            checks.append((env, {**step.pg_settings(), "application_name": env["PGAPPNAME"]}))
        wanted = next((s.pg_settings() for s in steps if s.pg_settings()), {})
        cause = role_defaults_cause(wanted) if from_role else DROPPED
        said = settings_verdict(item.name, dsn, checks, cause)
        if not said.ok:
            return False, f"{said.detail}; {detail}; {path.detail}"
        detail = f"{detail}; {path.detail}; {said.detail}"
        if item.name == rules.radar_dsn_var(self.core.runbook):
            detail = f"{detail}; {role_and_server(item.name, dsn, self.core.env)}"
        return True, detail

    def in_environment(self) -> Runbook:
        """The runbook with the session's environment's values in its setup items (the
        runbook as written when it runs in none): what the setup is checked against."""
        return for_environment(self.core.runbook, self.core.state.environment,
                               self.core.state.environment_values)

    def relink(self, link: records.RehearsalLink) -> None:
        """Be proved by another rehearsal (checked by the caller: a PASS of this runbook at
        this commit) — only while no phase step has run; the gate is proved again at once."""
        self.core.refuse_if(self.core.halted_reason())
        if self.core.state.steps or self.core.state.ended:
            raise ActionRefused("a phase step has run: the session's rehearsal cannot change")
        self.core.append(records.RehearsalLinked(rehearsal=link, **(
            {"replaced": self.core.state.rehearsal} if self.core.state.rehearsal else {})))
        for gate in rules.gates(self.core.runbook):
            if isinstance(gate, ProbeGate) and gate.probe == rules.REHEARSAL_PROBE:
                self._evaluate_rehearsal_gate(gate, gate.expected)

    def _placeholder(self) -> str:
        return rules.password_placeholder(self.core.runbook)

    def _evaluate_file_gate(self, gate: AttestationFileGate) -> None:
        path = resolve(self.core.workdir, gate.path)
        observed: dict[str, Any] = {"path": str(path)}
        data, refused = self._read_named(path)
        if data is None:
            ok, detail = False, refused
        else:
            # What is judged is the session's copy: the file may change after this moment.
            observed.update(self._capture(path, data))
            if observed.get("secret"):
                ok, detail = False, (f"{path}: holds a password the cockpit redacts; it is not "
                                     "copied into the session — remove it from the file")
            elif not observed["size"]:
                ok, detail = False, f"{path}: empty"
            else:
                copy = self.core.folder / observed["captured"]
                text = copy.read_text(encoding="utf-8", errors="replace")
                ok = gate.must_contain is None or any(
                    gate.must_contain in line for line in text.splitlines())
                detail = "present" if ok else f"no line contains {gate.must_contain!r}"
        self.core.append(records.GateEvaluated(gate=gate.id, ok=ok, observed=observed,
                                               detail=detail))

    def _read_named(self, path: Path) -> tuple[bytes | None, str]:
        """The bytes of a file the runbook names — opened without following links, a regular
        file only — or None and why not (naming the path)."""
        try:
            return read_named(self.core.workdir, path), ""
        except MissingPath:
            return None, f"{path}: no such file"
        except UnsafePath as exc:
            return None, exc.message
        except OSError as exc:
            return None, f"{path}: cannot be read ({exc.strerror or exc})"

    def _capture(self, source: Path, data: bytes) -> dict[str, Any]:
        """Keep an input, as read, in the session (`evidence/inputs/`), named by its content,
        so the session keeps it as it was when checked; returns where, its sha256 and size."""
        digest, size = hashlib.sha256(data).hexdigest(), len(data)
        if self.core.redactor and self.core.redactor.redact(data) != data:
            return {"sha256": digest, "size": size, "secret": True}  # only its hash is kept
        final = self.core.folder / INPUTS / f"{digest[:16]}-{source.name}"
        if not final.exists():  # else the same content, captured before
            make_folder(final.parent, like=self.core.folder)
            write_atomic(final, data)
        return {"captured": final.relative_to(self.core.folder).as_posix(), "sha256": digest,
                "size": size}

    def _evaluate_probe_gate(self, gate: ProbeGate, expected: Any) -> None:
        if gate.probe == rules.REHEARSAL_PROBE:
            self._evaluate_rehearsal_gate(gate, expected)
            return
        if gate.probe == rules.COUNTERSIGN_PROBE:
            self.evaluate_countersign_gate(gate)
            return
        began = time.monotonic()  # the timeline draws the gate over the time it took
        result = run_probe(gate.probe, self.core.probe_context(), expected, gate.args)
        seconds = round(time.monotonic() - began, 3)
        unreached = {} if result.reached else {"reached": False}
        self.core.append(records.GateEvaluated(
            gate=gate.id, ok=result.ok, expected=expected, observed=self.core.observed(result),
            detail=result.detail, seconds=seconds, **unreached))

    def evaluate_countersign_gate(self, gate: ProbeGate) -> None:
        """Answered by the transcript's countersignatures attached so far (re-evaluated as
        each one is attached): `count` reviewers, none of them the operator."""
        need = rules.countersign_count(gate)
        signers = rules.countersigners(self.core.state, "transcript")
        ok = len(signers) >= need
        names = ", ".join(f"{next(iter(s.identities), '?')} ({s.fingerprint})" for s in signers)
        detail = (f"countersigned by {names}" if ok else
                  f"awaiting {need - len(signers)} countersignature(s) of the transcript "
                  f"({len(signers)} of {need}): `cockpit countersign {self.core.folder}`, then "
                  "attach the file")
        self.core.append(records.GateEvaluated(
            gate=gate.id, ok=ok, expected=need,
            observed={"countersigned_by": [s.fingerprint for s in signers]}, detail=detail))

    def _evaluate_rehearsal_gate(self, gate: ProbeGate, expected: Any) -> None:
        """Proved by the linked rehearsal; with none linked, the commit/tag the operator
        gives, as `git.commit_matches` checks it (recorded as not proved)."""
        link = self.core.state.rehearsal
        if link is None:
            result = run_probe("git.commit_matches", self.core.probe_context(), expected, gate.args)
            observed = self.core.observed(result)
            self.core.append(records.GateEvaluated(
                gate=gate.id, ok=result.ok, expected=expected,
                observed={"proved": False, **observed} if isinstance(observed, dict) else
                observed, detail=f"{result.detail} (attested: no rehearsal linked)"))
            return
        repo = resolve(self.core.workdir, str(gate.args.get("repo", ".")))
        pinned: tuple[ProofItem, ...] = ()
        if expected:  # the runbook's own commit or tag holds too, proof or not
            found = run_probe("git.commit_matches", self.core.probe_context(), expected, gate.args)
            pinned = (ProofItem("pinned", found.ok, found.detail),)
        proof = prove(link, self.core.runbook, git_head(repo), self._rehearsed_path,
                      dirty=git_dirty(repo), extra=pinned)
        self.core.append(records.GateEvaluated(gate=gate.id, ok=proof.ok,
                                          observed={"proved": proof.ok, **proof.observed()},
                                          detail=proof.detail()))

    def _rehearsed_path(self, step_id: str, start: list[str]) -> list[str] | None:
        """This run's path for the rehearsal's upgrade step, from the rehearsal's start."""
        try:
            step = self.core.item(step_id)
        except CockpitError:  # this runbook has no such step (the transcripts differ too)
            return None
        target = upgrade_target(step.command) if isinstance(step, CommandStep) else None
        if target is None:
            return None
        try:
            config = command_config(step.command, self.core.env)
            return path_from(target, self.core.workdir, start, config)
        except Exception:  # an unreadable project: the item says "not known"
            return None

    def _check_script(self, script_path: str, pinned: str | None, listed: bool = True) -> None:
        path = resolve(self.core.workdir, script_path)
        data, refused = self._read_named(path)
        captured = self._capture(path, data) if data is not None else None
        observed = captured["sha256"] if captured else None
        if captured and captured.get("secret"):
            ok, detail = False, (f"{path}: holds a password the cockpit redacts; it is not "
                                 "copied into the session — remove it from the script")
        elif not listed:
            ok, detail = False, ("a step runs it but [[scripts]] does not list it: it cannot "
                                 "run unpinned in a production runbook; list it with the "
                                 "sha256 it was approved with")
        elif pinned is None:
            ok, detail = False, "not pinned: the runbook gives no approved sha256"
        elif observed is None:
            ok, detail = False, refused
        else:
            ok = observed == pinned
            detail = "matches the approved sha256" if ok else "CHANGED since approval"
        self.core.append(records.ScriptChecked(
            path=script_path, ok=ok, expected=pinned, observed=observed, detail=detail,
            captured=(captured or {}).get("captured")))
