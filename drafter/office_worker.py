"""The client half of :class:`drafter.pdf.WarmLibreOffice`: run by a Python that has
LibreOffice's ``uno`` module (Debian's python3-uno), never imported by drafter itself.

It connects to a LibreOffice listening on a named pipe, then reads one JSON request a line
from stdin ({"source", "target", "import", "export", "options"}) and answers one JSON line
({"ok": true} or {"ok": false, "error": "…"}); when LibreOffice is gone (it crashed), the
answer also says ``"stopped": true`` and the client ends. It uses only the standard library
and ``uno``.
"""

import json
import sys
import time

import uno
from com.sun.star.beans import PropertyValue


def _property(name, value):
    item = PropertyValue()
    item.Name = name
    item.Value = value
    return item


def _desktop(pipe, patience=60.0):
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.UnoUrlResolver", local)
    deadline = time.monotonic() + patience
    while True:
        try:
            context = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
            break
        except Exception:  # NoConnectException while LibreOffice starts
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    return context.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop",
                                                            context)


def _convert(desktop, request):
    document = desktop.loadComponentFromURL(
        uno.systemPathToFileUrl(request["source"]), "_blank", 0,
        (_property("Hidden", True), _property("ReadOnly", True),
         _property("FilterName", request["import"])))
    if document is None:
        raise RuntimeError("LibreOffice could not open the file")
    try:
        arguments = [_property("FilterName", request["export"]), _property("Overwrite", True)]
        options = request.get("options") or {}
        if options:
            data = tuple(_property(key, value) for key, value in options.items())
            arguments.append(_property("FilterData", uno.Any(
                "[]com.sun.star.beans.PropertyValue", data)))
        uno.invoke(document, "storeToURL",
                   (uno.systemPathToFileUrl(request["target"]), tuple(arguments)))
    finally:
        document.close(True)


def _alive(desktop):
    """Whether the LibreOffice behind ``desktop`` still answers."""
    try:
        desktop.getFrames()
    except Exception:  # DisposedException: the bridge to it is gone
        return False
    return True


def main():
    desktop = _desktop(sys.argv[1])
    print(json.dumps({"ok": True, "ready": True}), flush=True)
    for line in sys.stdin:
        try:
            _convert(desktop, json.loads(line))
            answer = {"ok": True, "error": ""}
        except Exception as e:  # every failure goes back as an answer, the worker goes on
            answer = {"ok": False, "error": f"{type(e).__name__}: {e}"}
            if not _alive(desktop):  # LibreOffice is gone (a crash): so is this client
                answer["stopped"] = True
                print(json.dumps(answer), flush=True)
                return
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
