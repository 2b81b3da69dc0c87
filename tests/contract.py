"""Comparing an OpenAPI operation of ours with the contract's, after resolving $refs."""

from typing import Any

JSON = Any


def resolve_refs(node: JSON, schemas: dict[str, JSON], seen: tuple[str, ...] = ()) -> JSON:
    """Inline every `#/components/schemas/X` reference (recursion is cut with a marker)."""
    if isinstance(node, list):
        return [resolve_refs(item, schemas, seen) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        siblings = {k: resolve_refs(v, schemas, seen) for k, v in node.items() if k != "$ref"}
        if name in seen:
            return {"$recursive": name, **siblings}
        return {**resolve_refs(schemas[name], schemas, (*seen, name)), **siblings}
    return {key: resolve_refs(value, schemas, seen) for key, value in node.items()}


def differences(
    expected: JSON, actual: JSON, path: str = "", *, allow_added_properties: bool = False
) -> list[str]:
    """Every place where `actual` differs from `expected`, as readable lines.

    With allow_added_properties, an object schema may have properties the
    expected one lacks (an extension); `required` lists must still be equal, so
    an added property is always optional.
    """
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = []
        for key in sorted(set(expected) | set(actual), key=str):
            where = f"{path}/{key}"
            if key not in actual:
                found.append(f"{where}: missing (expected {expected[key]!r:.200})")
            elif key not in expected:
                if not (allow_added_properties and path.endswith("/properties")):
                    found.append(f"{where}: unexpected {actual[key]!r:.200}")
            else:
                found.extend(
                    differences(
                        expected[key],
                        actual[key],
                        where,
                        allow_added_properties=allow_added_properties,
                    )
                )
        return found
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        found = []
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            found.extend(
                differences(
                    left, right, f"{path}[{index}]", allow_added_properties=allow_added_properties
                )
            )
        return found
    if expected != actual:
        return [f"{path or '/'}: expected {expected!r:.200}, got {actual!r:.200}"]
    return []
