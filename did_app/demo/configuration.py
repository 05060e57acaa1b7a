"""The demo's configuration objects: voice trunks and groups, SMS routes, capacity, profiles and rules."""
from datetime import timedelta
from decimal import Decimal
from itertools import accumulate

from did_app.demo.data import (
    CAPACITY_GROUPS,
    DAY,
    POOLS,
    PSTN_LABELS,
    SIP_SITES,
    SIP_SYSTEMS,
    VOICE_GROUPS,
)
from did_app.demo.rows import _insert, _insert_returning
from did_app.models import (
    CapacityGroup,
    CapacityPool,
    CapacityPoolCountry,
    ConfigurationProfile,
    Rule,
    SmsRoute,
    VoiceRoute,
)


class _Configuration:
    """Part of _Seeder (demo/seeder.py): what numbers are routed to, created before any number."""

    # ---- voice routes ---------------------------------------------------------------------

    def _voice_routes(self):
        rng, s = self.rng, self.session
        created = lambda: self.between(self.year_ago - 60 * DAY, self.year_ago)  # noqa: E731
        group_rows = [dict(kind="group", name=name, name_key=name.lower(), description=desc,
                           capacity_limit=rng.choice((None, None, None, 60, 120)), trunk_kind=None,
                           group_id=None, priority=1, weight=100, cli_format="e164", created_at=created(),
                           version=1)
                      for name, desc in VOICE_GROUPS]
        group_ids = _insert_returning(s, VoiceRoute, group_rows)
        trunk_rows, used = [], set()
        for i in range(40):
            site, code = SIP_SITES[i % len(SIP_SITES)]
            system, host_prefix, domain = SIP_SYSTEMS[(i * 3 + i // len(SIP_SITES)) % len(SIP_SYSTEMS)]
            name = f"{system} {site}"
            if name in used:
                name = f"{name} 2"
            used.add(name)
            transport = rng.choice(("udp", "udp", "tcp", "tls"))
            host = (f"{host_prefix}-{code}{rng.randrange(1, 4)}.{domain}" if rng.random() < 0.7 else
                    f"{rng.choice(('203.0.113', '198.51.100', '192.0.2'))}.{rng.randrange(2, 250)}")
            auth = rng.random() < 0.3
            trunk_rows.append(dict(
                kind="trunk", name=name, name_key=name.lower(),
                description=rng.choice((None, None, f"Primary PBX in {site}", "Managed by the IT team")),
                capacity_limit=rng.choice((None, None, None, 30, 60, 100)), trunk_kind="sip", group_id=None,
                priority=1, weight=100, cli_format=rng.choice(("e164", "e164", "raw", "local")),
                cli_prefix=rng.choice((None, None, None, "+", "#31#")), ringing_timeout=rng.choice((None, None, 30, 45, 60)),
                host=host, port=5061 if transport == "tls" else rng.choice((5060, 5060, None)),
                username=rng.choice(("{DID}", "{DID}", "+{DID}", "inbound")), transport=transport,
                codecs=rng.choice((["PCMU", "PCMA", "G729", "G723", "telephone-event"],
                                   ["PCMA", "PCMU", "telephone-event"], ["G722", "PCMU", "PCMA", "telephone-event"],
                                   ["PCMU", "telephone-event"])),
                auth_enabled=auth, auth_user=f"did{rng.randrange(1000, 9999)}" if auth else None,
                auth_password=self.secret(16) if auth else None, auth_from_user=None,
                auth_from_domain=None, media_encryption="srtp_sdes" if transport == "tls" and rng.random() < 0.5 else "disabled",
                destination=None, per_minute_rate=None, created_at=created(), version=1))
        for i in range(20):
            country = rng.choice(("US", "GB", "DE", "FR", "NL", "US", "GB"))
            label = PSTN_LABELS[i % len(PSTN_LABELS)]
            name = f"{label} ({country})" if i < len(PSTN_LABELS) else f"{label} {i // len(PSTN_LABELS) + 1} ({country})"
            trunk_rows.append(dict(
                kind="trunk", name=name, name_key=name.lower(), description=None,
                capacity_limit=rng.choice((None, 2, 4, 10)), trunk_kind="pstn", group_id=None, priority=1,
                weight=100, cli_format="e164", cli_prefix=None, ringing_timeout=rng.choice((None, 20, 30)),
                host=None, port=None, username=None, transport=None, codecs=None, auth_enabled=False,
                auth_user=None, auth_password=None, auth_from_user=None, auth_from_domain=None,
                media_encryption=None, destination=self.phone_for(country),
                per_minute_rate=rng.choice((Decimal("0.012000"), Decimal("0.018500"), Decimal("0.035000"), None)),
                created_at=created(), version=1))
        # group membership: 9 groups with 2-5 trunks, the last group stays empty
        order = list(range(len(trunk_rows)))
        rng.shuffle(order)
        pos = 0
        self.group_members: dict[int, list[int]] = {}
        for g in range(len(group_ids) - 1):
            size = rng.randint(2, 5)
            for j, t in enumerate(order[pos:pos + size]):
                trunk_rows[t]["group_id"] = group_ids[g]
                trunk_rows[t]["priority"] = 1 if j < 2 else j
                trunk_rows[t]["weight"] = rng.choice((100, 100, 50, 200))
                self.group_members.setdefault(group_ids[g], []).append(t)
            pos += size
        trunk_ids = _insert_returning(s, VoiceRoute, trunk_rows)
        self.trunk_ids = trunk_ids
        self.trunk_cum = list(accumulate(rng.choice((1, 1, 2, 4, 8)) for _ in trunk_ids))
        self.good_groups = group_ids[:-1]
        self.empty_group = group_ids[-1]
        self.voice_names = {i: r["name"] for i, r in zip(group_ids, group_rows)}
        self.voice_names.update({i: r["name"] for i, r in zip(trunk_ids, trunk_rows)})
        for rid, row in [*zip(group_ids, group_rows), *zip(trunk_ids, trunk_rows)]:
            self.audit(row["created_at"], "trunk_group.created" if row["kind"] == "group" else "trunk.created",
                       "trunk_group" if row["kind"] == "group" else "trunk", rid, row["name"])

    def pick_trunk(self) -> int:
        return self.rng.choices(self.trunk_ids, cum_weights=self.trunk_cum)[0]

    # ---- SMS routes -----------------------------------------------------------------------

    def _sms_routes(self):
        s = self.session
        created = lambda: self.between(self.year_ago - 60 * DAY, self.year_ago + 60 * DAY)  # noqa: E731
        groups = (("SMS primary", "CRM first, then the helpdesk"), ("SMS EU failover", None),
                  ("Legacy SMPP (all blocked)", "Every member is blocked; kept for reference"))
        group_rows = [dict(kind="group", name=n, name_key=n.lower(), description=d, trunk_kind=None,
                           blocked=False, priority=100, group_id=None, settings=None, created_at=created(),
                           version=1) for n, d in groups]
        gids = _insert_returning(s, SmsRoute, group_rows)

        def email(to, subject="SMS from {SMS_SRC_ADDR}"):
            return dict(send_to=to, subject=subject, message="{SMS_TEXT}\n\nReceived {SMS_TIME} on {SMS_DST_ADDR}")

        def http(url, method="POST"):
            return dict(url=url, method=method, query_parameters=[], headers=[{"key": "Authorization", "value": "Bearer demo-token"}],
                        body_type="json" if method != "GET" else None,
                        body='{"from": "{SMS_SRC_ADDR}", "to": "{SMS_DST_ADDR}", "text": "{SMS_TEXT}", "id": "{SMS_UUID}"}' if method != "GET" else None,
                        follow_redirects=False, verify_tls=True)

        def esme(location):
            return dict(system_type="", allowed_ips=["203.0.113.10", "198.51.100.0/28"], server_location=location,
                        system_id=self.secret(16), password=self.secret(8))

        def smsc(host, location):
            return dict(host=host, tx_port=2775, rx_port=2776, transceiver_mode=False, connection_timeout=30,
                        use_tls=True, system_id="northwind", system_type="", password=self.secret(8),
                        server_location=location)

        # (name, kind, settings, blocked, group index or None, priority)
        trunks = (
            ("Support inbox", "sms_to_email", email("Support <support@northwind.example.com>"), False, None, 100),
            ("Sales inbox", "sms_to_email", email("sales@northwind.example.com"), False, None, 100),
            ("Ops alerts mailbox", "sms_to_email", email("ops-alerts@contoso.example.com", "[SMS] {SMS_SRC_ADDR}"), False, None, 100),
            ("Helpdesk email", "sms_to_email", email("Helpdesk <helpdesk@fabrikam.example.org>"), False, 0, 30),
            ("CRM webhook", "http_in", http("https://crm.northwind.example.com/hooks/sms"), False, 0, 10),
            ("Zendesk SMS webhook", "http_in", http("https://northwind.zendesk.example.com/api/sms"), False, 0, 20),
            ("OTP service", "http_in", http("https://otp.contoso.example.com/inbound", "GET"), False, None, 100),
            ("Chatbot gateway", "http_in", http("https://bot.tailspin.example.com/sms"), False, None, 100),
            ("Marketing API (staging)", "http_in", http("https://staging.globex.example.net/sms"), True, 2, 10),
            ("SMPP bind Frankfurt", "smpp_esme", esme("Frankfurt"), False, 1, 10),
            ("SMPP bind Ashburn", "smpp_esme", esme("Ashburn"), False, None, 100),
            ("SMPP bind Singapore", "smpp_esme", esme("Singapore"), True, 1, 20),
            ("Own SMSC London", "smpp_smsc", smsc("smsc1.lon.northwind.example.com", "London"), False, None, 100),
            ("Own SMSC Amsterdam", "smpp_smsc", smsc("smsc.ams.wingtip.example.org", "Amsterdam"), False, None, 100),
            ("Legacy SMSC (retired)", "smpp_smsc", smsc("192.0.2.44", "London"), True, 2, 20),
        )
        rows = [dict(kind="trunk", name=n, name_key=n.lower(), description=None, trunk_kind=k, blocked=b,
                     priority=p, group_id=gids[g] if g is not None else None, settings=st, created_at=created(),
                     version=1) for n, k, st, b, g, p in trunks]
        tids = _insert_returning(s, SmsRoute, rows)
        self.sms_open = [t for t, r in zip(tids, rows) if not r["blocked"]]
        self.sms_blocked = [t for t, r in zip(tids, rows) if r["blocked"]]
        self.sms_good_groups = gids[:2]
        self.sms_dead_group = gids[2]
        self.sms_ok_routes = {*self.sms_open, *self.sms_good_groups}
        self.sms_names = {i: r["name"] for i, r in zip([*gids, *tids], [*group_rows, *rows])}
        for rid, row in zip([*gids, *tids], [*group_rows, *rows]):
            self.audit(row["created_at"], "sms_trunk_group.created" if row["kind"] == "group" else "sms_trunk.created",
                       "sms_trunk_group" if row["kind"] == "group" else "sms_trunk", rid, row["name"])

    # ---- capacity -------------------------------------------------------------------------

    def _capacity(self):
        rng, s = self.rng, self.session
        scale = self.exponent
        pool_rows = [dict(name=name, total_channels=0, setup_price_minor=int(round(1.0 * 10 ** scale)),
                          monthly_price_minor=int(round(price * 10 ** scale)), metered_rate=rate,
                          renew_date=(self.now + timedelta(days=rng.randint(5, 25))).date(),
                          renewal_failed_on=None, created_at=self.year_ago - 20 * DAY, version=1)
                     for name, _, price, rate in POOLS]
        self.pool_ids = _insert_returning(s, CapacityPool, pool_rows)
        self.pool_rows = pool_rows
        _insert(s, CapacityPoolCountry, [dict(pool_id=pid, country=c)
                                         for pid, (_, countries, _, _) in zip(self.pool_ids, POOLS) for c in countries])
        for pid, (_, countries, _, _) in zip(self.pool_ids, POOLS):
            for c in countries:
                self.pool_countries[c] = pid
        factor = max(1.0, (self.count / 2000) ** 0.5)
        group_rows = [dict(name=name, description=desc, pool_id=self.pool_ids[p],
                           shared_channels=int(round(shared * factor)), metered_channels=metered,
                           created_at=self.between(self.year_ago, self.year_ago + 90 * DAY), version=1)
                      for name, p, shared, metered, desc in CAPACITY_GROUPS]
        gids = _insert_returning(s, CapacityGroup, group_rows)
        self.groups_by_pool: dict[int, list[int]] = {}
        self.shared_by_pool: dict[int, int] = {}
        for gid, row in zip(gids, group_rows):
            self.groups_by_pool.setdefault(row["pool_id"], []).append(gid)
            self.shared_by_pool[row["pool_id"]] = self.shared_by_pool.get(row["pool_id"], 0) + row["shared_channels"]
            self.audit(row["created_at"], "capacity_group.created", "capacity_group", gid, row["name"])
        self.capacity_group_ids = gids
        for pid, row in zip(self.pool_ids, pool_rows):
            self.audit(row["created_at"], "capacity_pool.created", "capacity_pool", pid, row["name"])

    # ---- profiles and rules ---------------------------------------------------------------

    def _profiles_and_rules(self):
        s = self.session
        g = self.good_groups
        t = self.trunk_ids
        cg = self.capacity_group_ids
        profiles = (
            ("Standard routing", dict(voice_route_id=t[0])),
            ("US support", dict(voice_route_id=g[1], capacity_group_id=cg[5], description="Support line")),
            ("US sales", dict(voice_route_id=t[10], capacity_group_id=cg[6], sms_route_id=self.sms_open[0])),
            ("UK contact centre", dict(voice_route_id=g[0], capacity_group_id=cg[1])),
            ("UK sales", dict(voice_route_id=g[2], capacity_limit=10)),
            ("DACH sales", dict(voice_route_id=g[3], capacity_group_id=cg[2])),
            ("France support", dict(voice_route_id=t[4], capacity_group_id=cg[0])),
            ("Iberia", dict(voice_route_id=t[5], capacity_group_id=cg[3])),
            ("Toll-free IVR", dict(voice_route_id=g[7], description="Toll-free IVR entry point")),
            ("Mobile SMS to CRM", dict(sms_route_id=self.sms_good_groups[0])),
            ("SMS failover EU", dict(sms_route_id=self.sms_good_groups[1])),
            ("APAC follow-the-sun", dict(voice_route_id=g[4])),
            ("LATAM sales", dict(voice_route_id=g[5], capacity_limit=20)),
            ("Canada", dict(voice_route_id=t[14], capacity_group_id=cg[7])),
            ("Nordics", dict(voice_route_id=g[8])),
            ("San Francisco office", dict(voice_route_id=t[12], description="Main line — San Francisco")),
            ("New York office", dict(voice_route_id=t[10], capacity_limit=30)),
            ("London office", dict(voice_route_id=t[0], capacity_group_id=cg[1], description="Main line — London")),
            ("Berlin office", dict(voice_route_id=t[3], description="Main line — Berlin")),
            ("Paris office", dict(voice_route_id=t[4], description="Standard — Paris")),
        )
        rows = []
        for name, fields in profiles:
            row = dict(name=name, voice_route_id=None, sms_route_id=None, capacity_group_id=None,
                       capacity_limit=None, description=None,
                       created_at=self.between(self.year_ago, self.year_ago + 120 * DAY), version=1)
            row.update(fields)
            rows.append(row)
        pids = _insert_returning(s, ConfigurationProfile, rows)
        by_name = dict(zip((p[0] for p in profiles), pids))
        # 20 rules over every level: global, country, number type, region, city
        rules = (
            ("Everything else", "Standard routing", [], [], [], []),
            ("United States", "US support", ["US"], [], [], []),
            ("United Kingdom", "UK contact centre", ["GB"], [], [], []),
            ("Germany, Austria, Switzerland", "DACH sales", ["DE", "AT", "CH"], [], [], []),
            ("France and Belgium", "France support", ["FR", "BE"], [], [], []),
            ("Canada", "Canada", ["CA"], [], [], []),
            ("Toll-free everywhere", "Toll-free IVR", [], ["toll_free", "global"], [], []),
            ("Mobile numbers", "Mobile SMS to CRM", [], ["mobile"], [], []),
            ("EU mobiles", "SMS failover EU", ["DE", "FR", "NL", "ES", "IT"], ["mobile"], [], []),
            ("UK national numbers", "UK sales", ["GB"], ["national"], [], []),
            ("California", "US sales", ["US"], [], ["CA"], []),
            ("New York State", "New York office", ["US"], [], ["NY"], []),
            ("Scotland", "UK sales", ["GB"], [], ["Scotland"], []),
            ("Bavaria", "DACH sales", ["DE"], [], ["Bavaria"], []),
            ("San Francisco", "San Francisco office", ["US"], [], [], ["San Francisco"]),
            ("New York City", "New York office", ["US"], [], [], ["New York", "Brooklyn"]),
            ("London", "London office", ["GB"], [], [], ["London"]),
            ("Berlin", "Berlin office", ["DE"], [], [], ["Berlin"]),
            ("Paris", "Paris office", ["FR"], [], [], ["Paris"]),
            ("Madrid (paused)", "Iberia", ["ES"], [], [], ["Madrid"]),
        )
        rule_rows = [dict(name=name, profile_id=by_name[profile], countries=c, number_types=nt, regions=r,
                          cities=ci, enabled=not name.endswith("(paused)"),
                          created_at=self.between(self.year_ago + 30 * DAY, self.year_ago + 200 * DAY), version=1)
                     for name, profile, c, nt, r, ci in rules]
        rids = _insert_returning(s, Rule, rule_rows)
        for pid, row in zip(pids, rows):
            self.audit(row["created_at"], "profile.created", "profile", pid, row["name"])
        for rid, row in zip(rids, rule_rows):
            self.audit(row["created_at"], "rule.created", "rule", rid, row["name"])
