"""A small loopback stand-in for the GitHub REST endpoints the toolkit and workflows call.

Behaves like api.github.com for: GET /repos/{o}/{r}/issues/{n}/comments (per_page, page,
Link: rel="next"/"last"), POST the same path, PATCH /repos/{o}/{r}/issues/comments/{id}, and
GET /repos/{o}/{r}/commits/{sha}/pulls (the pull requests associated with a commit), and
issues: GET /repos/{o}/{r}/issues (state, labels, pagination; pull requests listed too, with a
`pull_request` key, as GitHub does), POST /repos/{o}/{r}/issues, PATCH /repos/{o}/{r}/issues/{n}.
Releases: POST /repos/{o}/{r}/git/refs (create a ref; 422 when it exists), PATCH
/repos/{o}/{r}/git/refs/tags/{tag} (move it; 422 when it does not exist), POST
/repos/{o}/{r}/releases (422 when the tag has one; `generate_release_notes` gives a body).
Resolving refs: GET /repos/{o}/{r}/commits/{ref} (a tag, branch or SHA of `refs`; 422 "No
commit found" for another ref, 404 for a repository it knows nothing of) and GET
/repos/{o}/{r}/git/ref/tags/{tag}. Runners: GET /repos/{o}/{r}/actions/runners (`add_runner`).
Events: POST /repos/{o}/{r}/dispatches (repository_dispatch: 204, recorded in `dispatches`;
422 without an event_type or with more than 10 client_payload keys, as GitHub answers).
Settings (names only, `add_setting`): GET /repos/{o}/{r}/actions/{variables,secrets}, the
organisation's (.../actions/organization-{variables,secrets}) and an environment's
(.../environments/{env}/{variables,secrets}).
Pull requests: GET /repos/{o}/{r}/pulls (state, newest first, pagination), POST the same path
(title, head, base, body, draft; 422 without a head or base, or when `head` already has an
open pull request, as GitHub answers), POST /repos/{o}/{r}/issues/{n}/labels (`add_pull`,
`merge_pull`, `pull_requests_of` for tests). A pull request is an issue too (one numbering).
Requires `Authorization: Bearer|token <token>`; answers 401/404/422 like GitHub does. The
repositories in `public` answer the two ref reads without a token, as public ones do.
Each repository's issues, pull requests, comments and commits' pull requests are a
`RepositoryState` (tests/support/github_state.py, the in-memory fake's state too); the helpers
here (add, add_issue, add_pull, associate, merge_pull, on, issues_of, pull_requests_of) are its,
with the repository first. Issue numbers (from 101) and comment and runner ids (from 1001) run
across repositories; a comment is found by its id alone, whichever repository the path names.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

from support.github_state import RepositoryState, public_comment

LIST = re.compile(r"^/repos/([^/]+)/([^/]+)/issues/(\d+)/comments$")
ONE = re.compile(r"^/repos/([^/]+)/([^/]+)/issues/comments/(\d+)$")
ISSUES = re.compile(r"^/repos/([^/]+)/([^/]+)/issues$")
ISSUE = re.compile(r"^/repos/([^/]+)/([^/]+)/issues/(\d+)$")
REFS = re.compile(r"^/repos/([^/]+)/([^/]+)/git/refs$")
TAG_REF = re.compile(r"^/repos/([^/]+)/([^/]+)/git/refs/(tags/.+)$")
RELEASES = re.compile(r"^/repos/([^/]+)/([^/]+)/releases$")
PULLS = re.compile(r"^/repos/([^/]+)/([^/]+)/commits/([0-9a-f]{7,40})/pulls$")
COMMIT = re.compile(r"^/repos/([^/]+)/([^/]+)/commits/([^/]+)$")
GIT_REF = re.compile(r"^/repos/([^/]+)/([^/]+)/git/ref/(tags/.+)$")
PULL_LIST = re.compile(r"^/repos/([^/]+)/([^/]+)/pulls$")
LABELS = re.compile(r"^/repos/([^/]+)/([^/]+)/issues/(\d+)/labels$")
DISPATCHES = re.compile(r"^/repos/([^/]+)/([^/]+)/dispatches$")
RUNNERS = re.compile(r"^/repos/([^/]+)/([^/]+)/actions/runners$")
SETTINGS = re.compile(
    r"^/repos/([^/]+)/([^/]+)/(actions/|actions/organization-|environments/[^/]+/)"
    r"(variables|secrets)$"
)


class _Issues(Mapping):
    """Every repository's issues and pull requests by (repo, number), in the order they were
    opened: a view of the stand-in's `RepositoryState`s (tests read and edit them through it)."""

    def __init__(self, repos: dict[str, RepositoryState]):
        self._repos = repos

    def __getitem__(self, key: tuple[str, int]) -> dict:
        repo, number = key
        state = self._repos.get(repo)
        if state is None:
            raise KeyError(key)
        return state.issues[number]

    def _keys(self) -> list[tuple[str, int]]:
        keys = [(s.repo, n) for s in list(self._repos.values()) for n in list(s.issues)]
        return sorted(keys, key=lambda key: key[1])

    def __iter__(self) -> Iterator[tuple[str, int]]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())


class GitHubStandIn:
    def __init__(self, token: str = "test-token"):
        self.token = token
        # repo -> its issues, pull requests, comments and commits' pull requests; the numbers and
        # ids run across repositories (comment and runner ids from one counter)
        self.repos: dict[str, RepositoryState] = {}
        self.issues = _Issues(self.repos)  # (repo, number) -> issue or pull request
        self.requests: list[tuple[str, str]] = []
        self.refs: dict[tuple[str, str], str] = {}  # (repo, "refs/tags/v1") -> sha
        self.releases: dict[tuple[str, str], dict] = {}  # (repo, tag) -> release
        self.runners: dict[str, list[dict]] = {}  # repo -> self-hosted runners
        self.dispatches: list[dict] = []  # repository_dispatch events: repo, event_type, payload
        self.public: set[str] = set()  # repositories whose refs read without a token
        # (repo, where, "variables"|"secrets") -> names; where: actions/, environments/<env>/...
        self.settings: dict[tuple[str, str, str], set[str]] = {}
        self._ids = itertools.count(1001)
        self._numbers = itertools.count(101)
        self._lock = threading.RLock()
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def state_of(self, repo: str) -> RepositoryState:
        """The state of `repo` (an empty one the first time)."""
        with self._lock:
            if repo not in self.repos:
                self.repos[repo] = RepositoryState(
                    repo,
                    pulls_url=f"{self.url}/repos/{repo}/pulls",
                    numbers=self._numbers,
                    ids=self._ids,
                    lock=self._lock,
                )
            return self.repos[repo]

    def comment(self, comment_id: int) -> dict | None:
        """Comment `comment_id` of any repository (PATCH .../issues/comments/{id} finds it so)."""
        with self._lock:
            states = list(self.repos.values())
        return next(
            (s.comments_by_id[comment_id] for s in states if comment_id in s.comments_by_id), None
        )

    # -- set-up and reads of one repository: RepositoryState's, `repo` first ---------------
    def add(self, repo: str, number: int, body: str, user: str = "someone") -> dict:
        return self.state_of(repo).add_comment(number, body, user)

    def associate(self, repo: str, sha: str, number: int, merged: bool = True) -> None:
        """Make ``sha`` a commit of pull request ``number`` (as a merge does)."""
        self.state_of(repo).associate(sha, number, merged)

    def add_issue(self, repo: str, *args, **kwargs) -> dict:
        """An issue: RepositoryState.add_issue(title, body, labels=(), state="open",
        pull_request=False)."""
        return self.state_of(repo).add_issue(*args, **kwargs)

    def add_pull(self, repo: str, *args, **kwargs) -> dict:
        """A pull request: RepositoryState.add_pull(head, title="a pull request", body="", *,
        base="main", created_at=None, state="open", labels=(), draft=False)."""
        return self.state_of(repo).add_pull(*args, **kwargs)

    def merge_pull(self, repo: str, number: int, sha: str) -> dict:
        """Close pull request `number` as merged, `sha` its merge commit (commits/{sha}/pulls)."""
        return self.state_of(repo).merge_pull(number, sha)

    def pull_requests_of(self, repo: str, state: str = "open") -> list[dict]:
        return self.state_of(repo).pull_requests_of(state)

    def issues_of(self, repo: str, state: str = "open") -> list[dict]:
        return self.state_of(repo).issues_of(state)

    def on(self, repo: str, number: int) -> list[dict]:
        return self.state_of(repo).on(number)

    def add_runner(
        self, repo: str, name: str, labels: tuple[str, ...], status: str = "online"
    ) -> dict:
        """A self-hosted runner of `repo`, as GET .../actions/runners lists it."""
        with self._lock:
            runner = {
                "id": next(self._ids),
                "name": name,
                "os": "Linux",
                "status": status,
                "busy": False,
                "labels": [{"id": i, "name": n, "type": "custom"} for i, n in enumerate(labels)],
            }
            self.runners.setdefault(repo, []).append(runner)
            return runner

    def add_setting(self, repo: str, kind: str, name: str, where: str = "actions/") -> None:
        """A variable or secret (kind: variables|secrets) of the repository, the organisation
        (where="actions/organization-") or an environment (where="environments/<env>/")."""
        with self._lock:
            self.settings.setdefault((repo, where, kind), set()).add(name)

    def resolve(self, repo: str, ref: str) -> str | None:
        """The SHA a tag, branch or (abbreviated) SHA names in `repo`, or None."""
        for name in (f"refs/tags/{ref}", f"refs/heads/{ref}"):
            if (repo, name) in self.refs:
                return self.refs[(repo, name)]
        shas = [sha for (r, _), sha in self.refs.items() if r == repo]
        return next((sha for sha in shas if len(ref) >= 7 and sha.startswith(ref)), None)

    def _handler(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, payload, headers: dict | None = None):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                auth = self.headers.get("Authorization", "")
                if auth in (f"Bearer {outer.token}", f"token {outer.token}"):
                    return True
                self._send(
                    401,
                    {
                        "message": "Bad credentials",
                        "documentation_url": "https://docs.github.com/rest",
                    },
                )
                return False

            def _body(self, required: str | None = "body") -> dict | None:
                length = int(self.headers.get("Content-Length", 0))
                try:
                    data = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self._send(400, {"message": "Problems parsing JSON"})
                    return None
                if required and not isinstance(data.get(required), str):
                    self._send(422, {"message": "Validation Failed"})
                    return None
                return data

            def do_GET(self):
                outer.requests.append(("GET", self.path))
                url = urlparse(self.path)
                if self._public_ref(url.path):
                    return self._ref(url.path)
                if not self._authorised():
                    return
                if COMMIT.match(url.path) or GIT_REF.match(url.path):
                    return self._ref(url.path)
                setting = SETTINGS.match(url.path)
                if setting:
                    key = (f"{setting[1]}/{setting[2]}", setting[3], setting[4])
                    found = [{"name": n} for n in sorted(outer.settings.get(key, set()))]
                    return self._send(200, {"total_count": len(found), setting[4]: found})
                runners = RUNNERS.match(url.path)
                if runners:
                    found = outer.runners.get(f"{runners[1]}/{runners[2]}", [])
                    return self._send(200, {"total_count": len(found), "runners": found})
                pulls = PULLS.match(url.path)
                if pulls:
                    commit_pulls = outer.state_of(f"{pulls[1]}/{pulls[2]}").commit_pulls_of(
                        pulls[3]
                    )
                    return self._send(200, commit_pulls)
                query = parse_qs(url.query)
                pull_list = PULL_LIST.match(url.path)
                if pull_list:
                    repo = f"{pull_list[1]}/{pull_list[2]}"
                    state = query.get("state", ["open"])[0]
                    return self._page(url, query, outer.state_of(repo).newest_pulls(state))
                issues = ISSUES.match(url.path)
                if issues:
                    return self._page(url, query, self._issues(f"{issues[1]}/{issues[2]}", query))
                m = LIST.match(url.path)
                if not m:
                    return self._send(404, {"message": "Not Found"})
                items = outer.on(f"{m[1]}/{m[2]}", int(m[3]))
                return self._page(url, query, [public_comment(c) for c in items])

            def _public_ref(self, path: str) -> bool:
                match = COMMIT.match(path) or GIT_REF.match(path)
                return bool(
                    match
                    and not self.headers.get("Authorization")
                    and f"{match[1]}/{match[2]}" in outer.public
                )

            def _ref(self, path: str):
                """GET .../commits/{ref} or .../git/ref/tags/{tag}, as GitHub answers them."""
                commit, tag = COMMIT.match(path), GIT_REF.match(path)
                match = commit or tag
                repo = f"{match[1]}/{match[2]}"
                if not any(r == repo for r, _ in outer.refs):
                    return self._send(404, {"message": "Not Found"})
                if tag:
                    sha = outer.refs.get((repo, f"refs/{tag[3]}"))
                    if sha is None:
                        return self._send(404, {"message": "Not Found"})
                    ref = {"ref": f"refs/{tag[3]}", "object": {"sha": sha, "type": "commit"}}
                    return self._send(200, ref)
                sha = outer.resolve(repo, unquote(commit[3]))
                if sha is None:
                    return self._send(422, {"message": f"No commit found for SHA: {commit[3]}"})
                return self._send(200, {"sha": sha, "commit": {"message": "stand-in"}})

            def _issues(self, repo: str, query: dict) -> list[dict]:
                state = query.get("state", ["open"])[0]
                wanted = [w for w in query.get("labels", [""])[0].split(",") if w]
                return outer.state_of(repo).listed(state, wanted)

            def _page(self, url, query: dict, items: list[dict]):
                """One page of a list, with GitHub's Link header (other query keys kept)."""
                per_page = min(int(query.get("per_page", ["30"])[0]), 100)
                page = int(query.get("page", ["1"])[0])
                chunk = items[(page - 1) * per_page : page * per_page]
                last = max(1, -(-len(items) // per_page))
                keep = "".join(
                    f"&{k}={v[0]}" for k, v in query.items() if k not in ("page", "per_page")
                )
                base = f"{outer.url}{url.path}?per_page={per_page}{keep}"
                links = []
                if page < last:
                    links.append(f'<{base}&page={page + 1}>; rel="next"')
                    links.append(f'<{base}&page={last}>; rel="last"')
                headers = {"Link": ", ".join(links)} if links else {}
                return self._send(200, chunk, headers)

            def do_POST(self):
                outer.requests.append(("POST", self.path))
                if not self._authorised():
                    return
                path = urlparse(self.path).path
                if REFS.match(path) or RELEASES.match(path):
                    return self._release_post(path)
                if DISPATCHES.match(path):
                    return self._dispatch(DISPATCHES.match(path))
                if PULL_LIST.match(path):
                    return self._create_pull(PULL_LIST.match(path))
                if LABELS.match(path):
                    return self._label(LABELS.match(path))
                issues = ISSUES.match(path)
                if issues:
                    data = self._body(required="title")
                    if data is None:
                        return
                    created = outer.add_issue(
                        f"{issues[1]}/{issues[2]}",
                        data["title"],
                        data.get("body") or "",
                        tuple(data.get("labels", [])),
                    )
                    return self._send(201, created)
                m = LIST.match(path)
                if not m:
                    return self._send(404, {"message": "Not Found"})
                data = self._body()
                if data is None:
                    return
                c = outer.add(f"{m[1]}/{m[2]}", int(m[3]), data["body"], user="github-actions")
                return self._send(201, public_comment(c))

            def do_PATCH(self):
                outer.requests.append(("PATCH", self.path))
                if not self._authorised():
                    return
                path = urlparse(self.path).path
                tag_ref = TAG_REF.match(path)
                if tag_ref:
                    key = (f"{tag_ref[1]}/{tag_ref[2]}", f"refs/{tag_ref[3]}")
                    data = self._body(required="sha")
                    if data is None:
                        return
                    if key not in outer.refs:
                        return self._send(422, {"message": "Reference does not exist"})
                    outer.refs[key] = data["sha"]
                    return self._send(200, {"ref": key[1], "object": {"sha": data["sha"]}})
                issue = ISSUE.match(path)
                if issue:
                    key = (f"{issue[1]}/{issue[2]}", int(issue[3]))
                    if key not in outer.issues:
                        return self._send(404, {"message": "Not Found"})
                    data = self._body(required=None)
                    if data is None:
                        return
                    for field in ("title", "body", "state"):
                        if field in data:
                            outer.issues[key][field] = data[field]
                    return self._send(200, outer.issues[key])
                m = ONE.match(path)
                c = outer.comment(int(m[3])) if m else None
                if c is None:
                    return self._send(404, {"message": "Not Found"})
                data = self._body()
                if data is None:
                    return
                c["body"] = data["body"]
                return self._send(200, public_comment(c))

            def _create_pull(self, match):
                data = self._body(required="title")
                if data is None:
                    return
                repo = f"{match[1]}/{match[2]}"
                head, base = data.get("head"), data.get("base")
                if not isinstance(head, str) or not head or not isinstance(base, str) or not base:
                    return self._send(422, {"message": "Validation Failed"})
                if outer.state_of(repo).has_open_pull(head):
                    message = f"A pull request already exists for {match[1]}:{head}."
                    return self._send(422, {"message": "Validation Failed", "errors": [message]})
                pull = outer.add_pull(
                    repo,
                    head,
                    data["title"],
                    data.get("body") or "",
                    base=base,
                    draft=bool(data.get("draft")),
                )
                return self._send(201, pull)

            def _label(self, match):
                key = (f"{match[1]}/{match[2]}", int(match[3]))
                data = self._body(required=None)
                if data is None:
                    return
                if key not in outer.issues:
                    return self._send(404, {"message": "Not Found"})
                if not isinstance(data.get("labels"), list):
                    return self._send(422, {"message": "Validation Failed"})
                with outer._lock:
                    have = outer.issues[key]["labels"]
                    for name in data["labels"]:
                        if name not in {lb["name"] for lb in have}:
                            have.append({"name": name})
                return self._send(200, outer.issues[key]["labels"])

            def _dispatch(self, match):
                data = self._body(required="event_type")
                if data is None:
                    return
                payload = data.get("client_payload") or {}
                if not isinstance(payload, dict) or len(payload) > 10:
                    return self._send(422, {"message": "client_payload: at most 10 properties"})
                with outer._lock:
                    outer.dispatches.append(
                        {
                            "repo": f"{match[1]}/{match[2]}",
                            "event_type": data["event_type"],
                            "client_payload": payload,
                        }
                    )
                self.send_response(204)
                self.end_headers()

            def _release_post(self, path: str):
                refs, releases = REFS.match(path), RELEASES.match(path)
                data = self._body(required="ref" if refs else "tag_name")
                if data is None:
                    return
                if refs:
                    key = (f"{refs[1]}/{refs[2]}", data["ref"])
                    if key in outer.refs:
                        return self._send(422, {"message": "Reference already exists"})
                    outer.refs[key] = data["sha"]
                    return self._send(201, {"ref": key[1], "object": {"sha": data["sha"]}})
                repo, tag = f"{releases[1]}/{releases[2]}", data["tag_name"]
                if (repo, tag) in outer.releases:
                    return self._send(
                        422,
                        {"message": "Validation Failed", "errors": [{"code": "already_exists"}]},
                    )
                body = data.get("body") or ""
                if data.get("generate_release_notes"):
                    body = f"## What's Changed\n* changes up to {tag}\n{body}".strip()
                release = {
                    "tag_name": tag,
                    "name": data.get("name") or tag,
                    "body": body,
                    "html_url": f"https://github.com/{repo}/releases/tag/{tag}",
                }
                outer.releases[(repo, tag)] = release
                return self._send(201, release)

        return Handler
