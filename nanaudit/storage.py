"""Where the data lives: this machine's folders, or an fsspec URL (``s3://``, ``gs://``,
``az://``…: the extra ``nanaudit[remote]``).

Every stage that touches the data does it through a :class:`Storage`: discovery lists
folders and reads split lists, decoders open files, the cache stamps them. ``LOCAL`` is the
file system, as nanaudit always read it (discovery keeps its own walk, with its guards for
links and loops, which an object store has no need of). :class:`RemoteStorage` lists the
whole prefix once, page by page (S3 returns 1,000 keys a request: 10 million objects are
10,000 requests, and no folder is listed twice; the folders of its first levels are listed
concurrently, each page by page), answers discovery's questions from that listing, opens
each object as a seekable stream of range requests (never a copy on disk), and stamps it
by its ETag, version and size for the cache.

Inside the pipeline a remote object is named by a path below ``RemoteStorage.root``
(``/bucket/prefix/images/x.png`` for ``s3://bucket/prefix/images/x.png``), so that pairing,
presets and reports treat both alike; only a Storage turns such a path into I/O.

Credentials and endpoints come from where the storage's library looks (for S3: the
``AWS_*`` variables, ``AWS_ENDPOINT_URL`` included, and ``~/.aws``), and from
``--storage-option KEY=VALUE``, given to fsspec as is.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from .kinds import ConfigError

URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")  # ftp://user:password@host
# the value of every query parameter of a URL (?token=, &sig=, X-Amz-Signature=…): a signed
# URL's signature is a credential, and which parameters are is the server's business
# (a ':' that ends the value before a space is the message's, as in "URL?sig=***: reason")
QUERY_VALUE = re.compile(r"(://[^\s?#]*\?[^\s#]*?|[?&;])([^=&;#\s?]+=)[^&;#\s]+?(?=:?\s|:?$|[&;#])")
# storage options whose values are secrets (s3fs, gcsfs, adlfs names), masked in messages
SECRET_OPTION = re.compile(r"(key|secret|token|password|passwd|credential|signature|sas)", re.I)
MASK = "***"
# secrets this process was given (a URL's user and password, query values, secret storage
# options): whatever a library quotes of them in its own messages is masked as well
_SECRETS: set[str] = set()

Stamp = tuple[Any, ...]

# Folders of a remote root listed at once (requests in flight, each paged), and how many
# levels of folders are listed one request each to find that many folders
LIST_THREADS = 8
LIST_DEPTH = 2
# A listed key longer than this names no file nanaudit audits (S3 allows 1,024 bytes; an
# HTTP page's links are any length): left out and counted, as keys that name no path are.
MAX_KEY_LENGTH = 4096


LOCAL_URL = re.compile(r"^(file|local)://", re.I)


def is_url(text: str) -> bool:
    """Whether a scan root names remote storage rather than a local folder (``file://``
    and fsspec's ``local://`` name local folders: ``local_path``)."""
    return bool(URL.match(text)) and not LOCAL_URL.match(text)


def local_path(text: str) -> str:
    """The plain path a ``file://`` or ``local://`` URL names (``file:///abs/dir`` →
    ``/abs/dir``), scanned as that path is, with its guards for links; other text as is."""
    from urllib.parse import unquote, urlsplit

    found = LOCAL_URL.match(text)
    if found is None:
        return text
    if found.group(1).lower() == "local":  # fsspec's: the rest is the path, as written
        return text[found.end() :] or "/"
    parts = urlsplit(text)
    if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
        raise ConfigError(f"{text}: a file:// URL names a path on this machine: file:///PATH")
    return unquote(parts.path) or "/"


class Storage:
    """The local file system: what nanaudit reads when no URL is given."""

    remote = False

    def display_root(self, root: Path) -> str | None:
        """How reports name the root (None: as a local path)."""
        return None

    def size(self, path: Path) -> int | None:
        """A file's size when it is known without asking (a listing's); None locally,
        where the decoder's own stat is the truth."""
        return None

    def stamp(self, path: Path) -> Stamp | None:
        """What changes when the file does: the cache's key (None: not stampable)."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


LOCAL = Storage()


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    path: Path
    is_dir: bool


class RemoteStorage(Storage):
    """An fsspec file system below a URL, listed once."""

    remote = True

    def __init__(self, url: str, options: Mapping[str, Any] | None = None) -> None:
        try:
            import fsspec
        except ImportError:
            raise ConfigError(
                f"{url}: remote storage needs fsspec: pip install 'nanaudit[remote]'"
            ) from None
        self.url = url.rstrip("/")
        self.options = dict(options or {})
        remember_secrets(self.url, self.options)
        # how reports and messages name it: without a password the URL may carry
        self.shown_url = without_credentials(self.url)
        protocol = self.url.partition("://")[0].lower()
        if protocol in ("http", "https") and ("?" in self.url or "#" in self.url):
            # fsspec follows a folder page's links relative to the whole URL: with a query
            # the page links to itself without end ("maximum recursion depth exceeded")
            raise ConfigError(
                f"{self.shown_url}: an HTTP folder is listed from its page's links, which do"
                " not carry a query string or #fragment: give the folder's URL without them"
            )
        try:
            fs_options = dict(self.options)
            if protocol in ("http", "https"):
                fs_options["client_kwargs"] = _confined_client(self.url, fs_options)
            self.fs, fs_root = fsspec.core.url_to_fs(self.url, **fs_options)
        except (ImportError, ValueError, TypeError) as exc:
            raise ConfigError(f"{self.shown_url}: {_one_line(exc)}") from None
        except Exception as exc:  # the SDKs' own errors
            raise ConfigError(f"{self.shown_url}: {_one_line(exc)}") from None
        self.fs_root = fs_root.rstrip("/")
        self.root = Path("/", fs_root.strip("/"))
        self._files: dict[str, Mapping[str, Any]] | None = None  # relative key → info
        # relative folder → {name in it: whether a folder}, from the keys' prefixes
        self._children: dict[str, dict[str, bool]] = {}
        # keys with an empty, "." or ".." segment (a//b.png, a/./b.png): no path names them
        self.pathless: tuple[str, ...] = ()

    def __getstate__(self) -> dict[str, Any]:
        # workers get the URL and options and open their own connection; the listing stays
        return {"url": self.url, "options": self.options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"], state["options"])  # type: ignore[misc]

    # ------------------------------------------------------------------ naming

    def display_root(self, root: Path) -> str:
        return self.shown_url

    def rel(self, path: Path) -> str:
        """``path`` relative to the root, POSIX form ("" for the root itself)."""
        rel = PurePosixPath(path).relative_to(PurePosixPath(self.root)).as_posix()
        return "" if rel == "." else rel

    def fs_path(self, path: Path) -> str:
        rel = self.rel(path)
        return f"{self.fs_root}/{rel}" if rel else self.fs_root

    # ------------------------------------------------------------------ the listing

    def listing(self) -> dict[str, Mapping[str, Any]]:
        """Every object below the root, by relative key: one paged listing, the first time
        it is needed."""
        if self._files is None:
            try:
                found = self._find_all()
            except FileNotFoundError:
                found = {}
            except (OSError, PermissionError) as exc:
                raise ConfigError(f"cannot list {self.shown_url}: {_one_line(exc)}") from None
            except RecursionError:
                raise ConfigError(
                    f"cannot list {self.shown_url}: its folders link to each other without end"
                ) from None
            except Exception as exc:  # botocore's and the SDKs' own errors
                raise ConfigError(f"cannot list {self.shown_url}: {_one_line(exc)}") from None
            prefix = self.fs_root + "/"
            files: dict[str, Mapping[str, Any]] = {}
            pathless: list[str] = []
            for name, info in found.items():
                if not name.startswith(prefix) or info.get("type") == "directory":
                    continue
                key = name[len(prefix) :]
                if not key or key.endswith("/"):  # a folder marker, not a file
                    continue
                if len(key) > MAX_KEY_LENGTH or _leaves(key):
                    pathless.append(key)  # as a path it would alias another, loop or leave
                    continue
                files[key] = info
            self.pathless = tuple(sorted(pathless))
            children: dict[str, dict[str, bool]] = {"": {}}
            for key in files:
                folder, _, name = key.rpartition("/")
                children.setdefault(folder, {})[name] = False
                while folder:  # the folder into its parent, up to one already known
                    parent, _, name = folder.rpartition("/")
                    siblings = children.setdefault(parent, {})
                    if siblings.get(name):
                        break
                    siblings[name] = True
                    folder = parent
            self._files = files
            self._children = children
        return self._files

    def _find_all(self) -> dict[str, Mapping[str, Any]]:
        """Every object below the root by its name in the file system, sorted by name.

        One paged listing of the whole prefix is one request after another (1,000 keys a
        page on S3: an hour for ten million keys). So the root's folders are listed a level
        at a time (one request each, ``LIST_THREADS`` at once: their objects and their
        folders) while there are fewer folders than threads, at most ``LIST_DEPTH`` levels
        (``images/`` and ``masks/`` become their split folders), and then each folder's
        keys in a paged listing of its own, ``LIST_THREADS`` at a time, which the file
        system's event loop runs concurrently. The result is the same dict, in the same
        order, as one listing of the whole prefix; a store whose client is not
        asynchronous (and a root with a folder name that could not be listed apart: an
        empty segment, "." or "..") is listed the one way."""
        if not getattr(self.fs, "async_impl", False):
            return dict(self.fs.find(self.fs_root, detail=True))
        from concurrent.futures import ThreadPoolExecutor

        # a folder's listing is kept by the file system's instance, which fsspec shares
        # within the process: one made by an earlier scan says nothing of the objects now
        self.fs.invalidate_cache()
        prefix = self.fs_root + "/"
        found: dict[str, Mapping[str, Any]] = {}
        folders = [self.fs_root]
        with ThreadPoolExecutor(LIST_THREADS) as pool:
            for _ in range(LIST_DEPTH):
                if not 0 < len(folders) < LIST_THREADS:
                    break
                below: list[str] = []
                for listed in pool.map(lambda f: self.fs.ls(f, detail=True), folders):
                    for info in listed:
                        name = str(info.get("name", ""))
                        if info.get("type") != "directory":
                            found[name] = info
                            continue
                        if not name.startswith(prefix):
                            continue  # a link out of the root (an HTTP page's): not kept
                        rel = name[len(prefix) :].rstrip("/")
                        if not rel or _leaves(rel):
                            return dict(self.fs.find(self.fs_root, detail=True))
                        below.append(name)
                folders = below
            for part in pool.map(lambda f: self.fs.find(f, detail=True), folders):
                found.update(part)
        return dict(sorted(found.items()))

    def exists(self) -> bool:
        return bool(self.listing())

    def is_dir(self, path: Path) -> bool:
        self.listing()
        return self._inside(path) and self.rel(path) in self._children

    def is_file(self, path: Path) -> bool:
        return self._inside(path) and self.rel(path) in self.listing()

    def entries(self, path: Path) -> list[Entry]:
        """The folders and files directly in ``path``, sorted by name."""
        if not self.is_dir(path):
            return []
        names = self._children[self.rel(path)]
        return [Entry(n, path / n, names[n]) for n in sorted(names)]

    def walk(self, top: Path) -> Iterator[tuple[Path, list[str], list[str]]]:
        """As ``os.walk``: (folder, its sub-folder names, its file names), top down."""
        if not self.is_dir(top):
            return
        entries = self.entries(top)
        dirs = [e.name for e in entries if e.is_dir]
        files = [e.name for e in entries if not e.is_dir]
        yield top, dirs, files
        for d in dirs:  # the caller may have pruned ``dirs``
            yield from self.walk(top / d)

    def _inside(self, path: Path) -> bool:
        return PurePosixPath(path).is_relative_to(PurePosixPath(self.root))

    # ------------------------------------------------------------------ files

    def info(self, path: Path) -> Mapping[str, Any] | None:
        """What the listing says of a file (size, ETag…); None for anything else."""
        if not self._inside(path):
            return None
        return self.listing().get(self.rel(path))

    def kind_and_size(self, path: Path) -> tuple[str | None, int]:
        """("file", size), ("directory", 0), or (None, 0) when nothing is there: from the
        listing when this process made it, else one request to the store (a worker).
        Raises OSError when the store cannot be asked."""
        if self._files is not None:
            info = self.info(path)
            if info is None:
                return ("directory" if self.is_dir(path) else None), 0
            if info.get("size") is not None:
                return "file", int(info["size"])
            # a listing without sizes (an HTTP server's folder pages): the store says
        try:
            found: Mapping[str, Any] = self.fs.info(self.fs_path(path))
        except FileNotFoundError:
            return None, 0
        except OSError:
            raise
        except Exception as exc:  # the SDKs' own errors
            raise OSError(_one_line(exc)) from None
        if found.get("type") == "directory":
            return "directory", 0
        return "file", int(found.get("size") or 0)

    def size(self, path: Path) -> int | None:
        info = self.info(path)
        size = info.get("size") if info is not None else None
        return int(size) if size is not None else None

    def stamp(self, path: Path) -> Stamp | None:
        info = self.info(path)
        if info is None:
            return None
        etag = str(info.get("ETag") or info.get("etag") or info.get("md5Hash") or "")
        version = str(info.get("VersionId") or info.get("generation") or "")
        if not etag and not version:
            return None  # nothing that says the content changed: not cached
        return ("remote", etag.strip('"'), version, int(info.get("size") or 0))

    def open(self, path: Path, size: int | None = None) -> IO[bytes]:
        """A seekable stream of the object: range requests, read ahead, never a copy on
        disk (``size``, when known, spares a request)."""
        name = self.fs_path(path)
        fh: IO[bytes] = self.fs.open(name, "rb", cache_type="readahead", size=size)
        if size is not None and isinstance(getattr(type(fh), "details", None), property):
            # fsspec's buffered files ask the store for the object's details on their first
            # read (s3fs does, to compare ETags): what the listing said is that answer
            info = self.info(path) if self._files is not None else None
            details = dict(info) if info else {"name": name, "size": size, "type": "file"}
            fh.details = details  # type: ignore[attr-defined]
        return fh

    def read_text(self, path: Path, limit: int) -> str | None:
        """A small text object (a split list); None when it is missing or larger than
        ``limit`` bytes."""
        size = self.size(path)
        if (size is None and not self.is_file(path)) or (size is not None and size > limit):
            return None
        try:
            with self.open(path, size) as fh:
                data = fh.read(limit + 1)
        except OSError:
            return None
        return data.decode("utf-8", errors="replace") if len(data) <= limit else None


def remember_secrets(url: str, options: Mapping[str, Any]) -> None:
    """Note the secrets a root URL and its storage options carry, so that every message
    masks them, wherever a library quotes them (``s3://KEY:SECRET@bucket`` is quoted by
    s3fs as ``KEY:SECRET@bucket``)."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    found: list[str] = []
    if parts is not None:
        userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
        if userinfo:
            found += [userinfo, *userinfo.split(":", 1)]
        found += [v for _, v in parse_qsl(parts.query, keep_blank_values=False)]
    found += [str(v) for k, v in options.items() if SECRET_OPTION.search(k) and v]
    for secret in found:
        for form in (secret, unquote(secret)):
            if len(form) >= 4:  # shorter ones would mask ordinary words
                _SECRETS.add(form)


def without_credentials(text: str) -> str:
    """``text`` with the user and password of any URL in it left out, every query value
    masked, and every secret this process was given masked wherever it appears."""
    text = USERINFO.sub(r"\1", text)
    text = QUERY_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _one_line(exc: BaseException) -> str:
    return without_credentials(" ".join(str(exc).split())) or type(exc).__name__


def _leaves(key: str) -> bool:
    """Whether a listed key, as written or percent-decoded (once or twice, as a server or
    a client library may), has an empty, "." or ".." segment or a backslash: such a key
    names no file below the root (an HTTP server normalises ``%2e%2e/`` and ``a%2F..``
    into a parent folder)."""
    from urllib.parse import unquote

    once = unquote(key)
    for form in (key, once, unquote(once)):
        if "\\" in form or any(part in ("", ".", "..") for part in form.split("/")):
            return True
    return False


def _confined_client(url: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """aiohttp's client settings for an HTTP(S) root: a redirect is followed only when it
    stays below the root (same scheme, host and port; its path, percent-decoded and
    normalised, under the root's); any other fails the request, naming no target."""
    import posixpath
    from urllib.parse import unquote, urlsplit

    import aiohttp

    root = urlsplit(url)
    root_path = posixpath.normpath(unquote(root.path) or "/")

    def below(target: str) -> bool:
        t = urlsplit(target)
        place = (t.scheme.lower(), t.hostname, t.port)
        if place != (root.scheme.lower(), root.hostname, root.port):
            return False
        path = unquote(unquote(t.path)) or "/"
        if "\\" in path:
            return False
        clean = posixpath.normpath(path)
        return clean == root_path or clean.startswith(root_path.rstrip("/") + "/")

    async def on_redirect(session: Any, context: Any, params: Any) -> None:
        response = params.response
        location = response.headers.get("Location", "")
        target = str(response.url.join(type(response.url)(location)))
        if not below(target):
            raise aiohttp.ClientError(
                f"the server redirected {without_credentials(str(params.url))} outside "
                f"{without_credentials(url)}: not followed"
            )

    trace = aiohttp.TraceConfig()
    trace.on_request_redirect.append(on_redirect)
    given = dict(options.get("client_kwargs") or {})
    given["trace_configs"] = [*given.get("trace_configs", ()), trace]
    return given
