# SPDX-License-Identifier: GPL-3.0-or-later
"""Users registering their own phone: XEP-0077 with a data form (and the
legacy <phone/> element), verification by a spoken code, XEP-0050 ad-hoc
commands. The bridge is not running: a verify job stays queued and the
test reads its code from the queue, as the bridge would speak it."""

import unittest

import rbtest
from rbtest import (GATEWAY, NS_COMMANDS, NS_DATA, NS_DISCO_ITEMS,
                    NS_REGISTER, error_condition, form_fields, q, submit_form)

PHONE = "+15551234567"
OTHER_PHONE = "+15557654321"
FIELDS = ("phone", "phone2", "phone3", "tz", "call_when", "quiet_hours",
          "lang", "roster_only", "gate", "code")
THIRD_PHONE = "+15550001111"


class RegisterTest(rbtest.ComponentTest):
    users = ("alice", "frank")

    def setUp(self):
        super().setUp()
        self.frank = self.client(self.prosody, "frank")
        self.frank_jid = rbtest.jid("frank")

    # -- helpers

    def reg_get(self):
        r = self.frank.iq("<iq type='get' to='%s'><query xmlns='%s'/></iq>"
                          % (GATEWAY, NS_REGISTER))
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        query = r.find(q(NS_REGISTER, "query"))
        self.assertIsNotNone(query, rbtest.xml_str(r))
        return query

    def reg_set(self, fields):
        return self.frank.iq(
            "<iq type='set' to='%s'><query xmlns='%s'>%s</query></iq>" % (
                GATEWAY, NS_REGISTER, submit_form(fields, NS_REGISTER)))

    def register(self, phone=PHONE, **extra):
        fields = {"phone": phone}
        fields.update(extra)
        r = self.reg_set(fields)
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        return r

    def verify_job(self):
        jobs = rbtest.wait_until(
            lambda: self.db.jobs(callee_jid=self.frank_jid, kind=2), 20,
            what="a verify job for frank")
        return jobs[-1]

    def assert_refused(self, r, conditions, mention=None):
        self.assertEqual(r.get("type"), "error", rbtest.xml_str(r))
        etype, cond, text = error_condition(r)
        self.assertIn(cond, conditions, rbtest.xml_str(r))
        if mention:
            self.assertIn(mention, (text or "").lower(), rbtest.xml_str(r))
        return etype, cond, text

    # -- XEP-0077

    def test_get_returns_the_form(self):
        query = self.reg_get()
        form = query.find(q(NS_DATA, "x"))
        self.assertIsNotNone(form, rbtest.xml_str(query))
        self.assertEqual(form.get("type"), "form")
        values, elems = form_fields(form)
        self.assertEqual(values.get("FORM_TYPE"), [NS_REGISTER])
        for var in FIELDS:
            self.assertIn(var, elems, "field %s missing" % var)
        self.assertIsNotNone(elems["phone"].find(q(NS_DATA, "required")))
        self.assertEqual(elems["call_when"].get("type"), "list-single")
        options = {o.find(q(NS_DATA, "value")).text
                   for o in elems["call_when"].findall(q(NS_DATA, "option"))}
        self.assertEqual(options, {"offline", "away"})
        self.assertEqual(elems["roster_only"].get("type"), "boolean")
        self.assertEqual(elems["gate"].get("type"), "list-single")
        self.assertIn("voicemail", elems["gate"].get("label"))
        options = {o.find(q(NS_DATA, "value")).text
                   for o in elems["gate"].findall(q(NS_DATA, "option"))}
        self.assertEqual(options, {"default", "on", "off"})
        self.assertEqual(values.get("gate"), ["default"])
        # The legacy field, for clients without data forms.
        self.assertIsNotNone(query.find(q(NS_REGISTER, "phone")))
        self.assertIsNone(query.find(q(NS_REGISTER, "registered")))

    def test_register_queues_a_verification_call(self):
        self.register()
        reg = rbtest.wait_until(lambda: self.db.registration(self.frank_jid),
                                10, what="frank's registration row")
        self.assertEqual(reg["phone"], PHONE)
        self.assertEqual(reg["verified"], 0)
        job = self.verify_job()
        self.assertEqual(job["destination"], PHONE)
        self.assertEqual(job["state"], 0)
        self.assertRegex(job["verify_code"] or "", r"^[0-9]{6}$")
        self.assertEqual(job["verify_code"], reg["verify_code"])
        # No message job comes from a registration.
        self.assertEqual(self.message_jobs(callee_jid=self.frank_jid), [])

    def test_get_when_registered_shows_current_values(self):
        self.register(tz="Europe/London", call_when="away",
                      quiet_hours="22:00-07:00", lang="en")
        query = self.reg_get()
        self.assertIsNotNone(query.find(q(NS_REGISTER, "registered")),
                             rbtest.xml_str(query))
        values, _ = form_fields(query.find(q(NS_DATA, "x")))
        self.assertEqual(values.get("phone"), [PHONE])
        self.assertEqual(values.get("tz"), ["Europe/London"])
        self.assertEqual(values.get("call_when"), ["away"])
        self.assertEqual(values.get("quiet_hours"), ["22:00-07:00"])
        legacy = query.find(q(NS_REGISTER, "phone"))
        self.assertEqual(legacy.text if legacy is not None else PHONE, PHONE)

    def test_legacy_phone_element(self):
        r = self.frank.iq("<iq type='set' to='%s'><query xmlns='%s'><phone>%s"
                          "</phone></query></iq>" % (GATEWAY, NS_REGISTER,
                                                     PHONE))
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        reg = rbtest.wait_until(lambda: self.db.registration(self.frank_jid),
                                10, what="frank's registration row")
        self.assertEqual((reg["phone"], reg["verified"]), (PHONE, 0))

    def test_bad_phone_refused(self):
        r = self.reg_set({"phone": "12345abc"})
        etype, _, _ = self.assert_refused(r, ("not-acceptable",), "phone")
        self.assertEqual(etype, "modify")
        self.assertIsNone(self.db.registration(self.frank_jid)
                          if self.db.exists() else None)

    def test_phone_outside_allowed_prefixes_refused(self):
        r = self.reg_set({"phone": "+33612345678"})
        self.assert_refused(r, ("not-acceptable",), "phone")
        self.assertEqual(self.db.jobs(callee_jid=self.frank_jid), [])

    def test_right_code_verifies(self):
        self.register()
        code = self.verify_job()["verify_code"]
        r = self.reg_set({"code": code})
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        reg = self.db.registration(self.frank_jid)
        self.assertEqual(reg["verified"], 1)
        self.assertEqual(reg["phone"], PHONE)

    def test_wrong_codes_lock_verification(self):
        self.register()
        code = self.verify_job()["verify_code"]
        wrong = "%06d" % ((int(code) + 1) % 1000000)
        for i in range(5):
            r = self.reg_set({"code": wrong})
            self.assert_refused(r, ("not-acceptable", "policy-violation",
                                    "not-allowed", "forbidden"))
        self.assertGreaterEqual(
            self.db.registration(self.frank_jid)["verify_failures"], 5)
        # Now even the right code is refused.
        r = self.reg_set({"code": code})
        self.assert_refused(r, ("not-acceptable", "policy-violation",
                                "not-allowed", "forbidden",
                                "resource-constraint"))
        self.assertEqual(self.db.registration(self.frank_jid)["verified"], 0)

    def test_remove(self):
        self.register()
        rbtest.wait_until(lambda: self.db.registration(self.frank_jid), 10)
        r = self.frank.iq("<iq type='set' to='%s'><query xmlns='%s'><remove/>"
                          "</query></iq>" % (GATEWAY, NS_REGISTER))
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        self.assertIsNone(self.db.registration(self.frank_jid))
        self.assertIsNone(self.reg_get().find(q(NS_REGISTER, "registered")))

    # -- the voicemail gate, per user (issue 12)

    def test_gate_off_in_the_form_reaches_the_job(self):
        self.register(gate="off")
        self.assertEqual(self.db.registration(self.frank_jid)["gate"], 0)
        values, _ = form_fields(self.reg_get().find(q(NS_DATA, "x")))
        self.assertEqual(values.get("gate"), ["off"])
        self.verify()
        job = self.catch_as_offline("no gate for me")
        self.assertEqual(job["gate"], 0)

    def test_gate_default_is_stored_as_no_value(self):
        self.register(gate="on")
        self.assertEqual(self.db.registration(self.frank_jid)["gate"], 1)
        self.register(gate="default")
        self.assertIsNone(self.db.registration(self.frank_jid)["gate"])
        self.verify()
        job = self.catch_as_offline("the operator decides")
        self.assertIsNone(job["gate"])

    def test_bad_gate_refused(self):
        self.register(gate="on")
        r = self.reg_set({"phone": PHONE, "gate": "sometimes"})
        self.assert_refused(r, ("not-acceptable",), "gate")
        self.assertEqual(self.db.registration(self.frank_jid)["gate"], 1)

    # -- further numbers (issue 12)

    def test_further_numbers_verified_in_turn_reach_the_job(self):
        self.register(phone2=OTHER_PHONE, phone3=THIRD_PHONE)
        first = self.verify_job()
        self.assertEqual(first["destination"], PHONE)
        r = self.reg_set({"code": first["verify_code"]})
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        # Entering the first code calls the second number with its own.
        second = rbtest.wait_until(
            lambda: [j for j in self.db.jobs(callee_jid=self.frank_jid,
                                             kind=2)
                     if j["destination"] == OTHER_PHONE], 10,
            what="a verify job to the second number")[0]
        self.assertNotEqual(second["verify_code"], first["verify_code"])
        reg = self.db.registration(self.frank_jid)
        self.assertEqual((reg["verified"], reg["verified2"],
                          reg["verified3"]), (1, 0, 0))
        values, elems = form_fields(self.reg_get().find(q(NS_DATA, "x")))
        self.assertEqual(values.get("phone2"), [OTHER_PHONE])
        self.assertIn("not verified", elems["phone2"].get("label"))
        r = self.reg_set({"code": second["verify_code"]})
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        reg = self.db.registration(self.frank_jid)
        self.assertEqual((reg["verified2"], reg["verified3"]), (1, 0))
        # The third stays unverified: the job holds the verified ones.
        job = self.catch_as_offline("ring them all")
        self.assertEqual((job["destination"], job["destination2"],
                          job["destination3"]), (PHONE, OTHER_PHONE, None))

    def test_further_number_over_the_hourly_limit_waits(self):
        # Three code calls this hour (the limit): PHONE, OTHER, PHONE.
        self.register(phone=PHONE)
        self.register(phone=OTHER_PHONE)
        self.register(phone=PHONE, phone2=THIRD_PHONE)
        rbtest.wait_until(lambda: len(self.db.jobs(
            callee_jid=self.frank_jid, kind=2)) == 3, 10,
            what="three verify jobs")
        r = self.reg_set({"code": self.verify_job()["verify_code"]})
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        reg = self.db.registration(self.frank_jid)
        self.assertEqual((reg["verified"], reg["verified2"],
                          reg["verify_code"]), (1, 0, None))
        self.assertEqual(len(self.db.jobs(callee_jid=self.frank_jid,
                                          kind=2)), 3)
        # A code now says why there is none, naming the number.
        r = self.reg_set({"code": "123456"})
        _, _, text = self.assert_refused(r, ("not-allowed",), "code")
        self.assertIn(THIRD_PHONE, text)

    def test_bad_further_number_refused_by_name(self):
        self.register()
        cases = [({"phone2": "+33612345678"}, "phone2"),
                 ({"phone2": OTHER_PHONE, "phone3": "12345abc"}, "phone3"),
                 ({"phone2": PHONE}, "phone2"),
                 ({"phone2": OTHER_PHONE, "phone3": OTHER_PHONE}, "phone3")]
        for fields, name in cases:
            with self.subTest(fields=fields):
                r = self.reg_set(dict(fields, phone=PHONE))
                _, _, text = self.assert_refused(r, ("not-acceptable",),
                                                 name)
                self.assertTrue(text.startswith(name + ":"), text)
                self.assertIsNone(
                    self.db.registration(self.frank_jid)["phone2"])

    def test_settings_command_sets_a_second_number(self):
        self.register()
        r = self.command("settings")
        cmd = r.find(q(NS_COMMANDS, "command"))
        _, elems = form_fields(cmd.find(q(NS_DATA, "x")))
        self.assertIn("phone2", elems)
        r = self.command("settings", "complete", cmd.get("sessionid"),
                         submit_form({"phone2": "+1 555 765 4321"}))
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        reg = self.db.registration(self.frank_jid)
        self.assertEqual((reg["phone2"], reg["verified2"]), (OTHER_PHONE, 0))

    # -- push registrations follow the registration (issue 10)

    def verify(self):
        r = self.reg_set({"code": self.verify_job()["verify_code"]})
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        return self.db.registration(self.frank_jid)["push_node"]

    def catch_as_offline(self, body):
        """Frank goes offline, alice writes: the job caught for frank."""
        self.frank.disconnect()
        self.alice.send_message(self.frank_jid, body)
        jobs, msgs = self.wait_messages(self.frank_jid, 1)
        self.assertEqual([m["body"] for m in msgs], [body])
        return jobs[0]

    def test_changed_number_keeps_push_in_step(self):
        self.register()
        node = self.verify()
        self.prosody.wait_push_nodes("frank", [node])
        self.register(phone=OTHER_PHONE)
        # Unverified until the new code is in: not pushed meanwhile.
        self.prosody.wait_push_nodes("frank", [])
        self.assertEqual(self.verify(), node)
        self.prosody.wait_push_nodes("frank", [node])
        job = self.catch_as_offline("to the new number")
        self.assertEqual(job["destination"], OTHER_PHONE)

    def test_remove_and_register_again_moves_the_node(self):
        self.register()
        old = self.verify()
        self.prosody.wait_push_nodes("frank", [old])
        r = self.frank.iq("<iq type='set' to='%s'><query xmlns='%s'><remove/>"
                          "</query></iq>" % (GATEWAY, NS_REGISTER))
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        self.prosody.wait_push_nodes("frank", [])
        self.register(phone=OTHER_PHONE)
        new = self.verify()
        self.assertNotEqual(new, old)
        self.prosody.wait_push_nodes("frank", [new])
        job = self.catch_as_offline("after registering again")
        self.assertEqual(job["destination"], OTHER_PHONE)

    # -- XEP-0050

    def command(self, node, action="execute", sessionid=None, form=None):
        attrs = "node='%s' action='%s'" % (node, action)
        if sessionid:
            attrs += " sessionid='%s'" % sessionid
        return self.frank.iq("<iq type='set' to='%s'><command xmlns='%s' %s>"
                             "%s</command></iq>" % (GATEWAY, NS_COMMANDS,
                                                    attrs, form or ""))

    def test_commands_listed(self):
        r = self.frank.disco_items(GATEWAY, node=NS_COMMANDS)
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        nodes = {i.get("node") for i in r.iter(q(NS_DISCO_ITEMS, "item"))}
        self.assertLessEqual({"settings", "verify", "unregister"}, nodes)
        for i in r.iter(q(NS_DISCO_ITEMS, "item")):
            self.assertEqual(i.get("jid"), GATEWAY)

    def test_verify_command(self):
        self.register()
        code = self.verify_job()["verify_code"]
        r = self.command("verify")
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        cmd = r.find(q(NS_COMMANDS, "command"))
        self.assertEqual(cmd.get("status"), "executing", rbtest.xml_str(r))
        _, elems = form_fields(cmd.find(q(NS_DATA, "x")))
        self.assertIn("code", elems)
        r = self.command("verify", "complete", cmd.get("sessionid"),
                         submit_form({"code": code}))
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        self.assertEqual(r.find(q(NS_COMMANDS, "command")).get("status"),
                         "completed")
        self.assertEqual(self.db.registration(self.frank_jid)["verified"], 1)

    def test_verify_command_wrong_code(self):
        self.register()
        code = self.verify_job()["verify_code"]
        r = self.command("verify")
        cmd = r.find(q(NS_COMMANDS, "command"))
        wrong = "%06d" % ((int(code) + 7) % 1000000)
        r = self.command("verify", "complete", cmd.get("sessionid"),
                         submit_form({"code": wrong}))
        # Either an IQ error or a completed command whose note says so;
        # in both cases the phone stays unverified.
        if r.get("type") == "result":
            note = r.find("%s/%s" % (q(NS_COMMANDS, "command"),
                                     q(NS_COMMANDS, "note")))
            self.assertIsNotNone(note, rbtest.xml_str(r))
            self.assertEqual(note.get("type"), "error", rbtest.xml_str(r))
        self.assertEqual(self.db.registration(self.frank_jid)["verified"], 0)

    def test_settings_command_sets_the_gate(self):
        self.register()
        r = self.command("settings")
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        cmd = r.find(q(NS_COMMANDS, "command"))
        values, _ = form_fields(cmd.find(q(NS_DATA, "x")))
        self.assertEqual(values.get("gate"), ["default"])
        r = self.command("settings", "complete", cmd.get("sessionid"),
                         submit_form({"gate": "off"}))
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        self.assertEqual(self.db.registration(self.frank_jid)["gate"], 0)
        # A bad value names the field and changes nothing.
        r = self.command("settings")
        cmd = r.find(q(NS_COMMANDS, "command"))
        r = self.command("settings", "complete", cmd.get("sessionid"),
                         submit_form({"gate": "maybe"}))
        self.assert_refused(r, ("not-acceptable",), "gate")
        self.assertEqual(self.db.registration(self.frank_jid)["gate"], 0)

    def test_unregister_command(self):
        self.register()
        rbtest.wait_until(lambda: self.db.registration(self.frank_jid), 10)
        r = self.command("unregister")
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        cmd = r.find(q(NS_COMMANDS, "command"))
        if cmd.get("status") == "executing":
            # A confirmation form: say yes to every boolean it asks.
            _, elems = form_fields(cmd.find(q(NS_DATA, "x")))
            answers = {var: "true" for var, f in elems.items()
                       if f.get("type") == "boolean"}
            r = self.command("unregister", "complete", cmd.get("sessionid"),
                             submit_form(answers))
            self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
            cmd = r.find(q(NS_COMMANDS, "command"))
        self.assertEqual(cmd.get("status"), "completed", rbtest.xml_str(r))
        self.assertIsNone(self.db.registration(self.frank_jid))


if __name__ == "__main__":
    unittest.main()
