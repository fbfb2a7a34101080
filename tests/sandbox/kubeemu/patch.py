"""Patches: strategic merge (with the Kubernetes merge keys and $patch directives), JSON merge, JSON patch."""

import copy

import jsonpatch


class PatchError(ValueError):
    pass


# list field name -> merge key, as the Kubernetes types declare them (patchMergeKey)
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "imagePullSecrets": "name", "hostAliases": "ip", "conditions": "type", "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey", "resourceClaims": "name", "resizePolicy": "resourceName",
    "addresses": "type", "ports": None,  # decided by context, see _merge_key
}
# lists of scalars merged as sets (patchStrategy: merge)
SET_LISTS = {"finalizers", "podCIDRs"}


def _merge_key(name, path):
    if name == "ports":
        # container ports merge on containerPort, service ports on port
        return "containerPort" if any(p in ("containers", "initContainers", "ephemeralContainers")
                                      for p in path) else "port"
    return MERGE_KEYS.get(name)


def json_merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


def json_patch(target, ops):
    if not isinstance(ops, list):
        raise PatchError("json patch must be a list of operations")
    try:
        return jsonpatch.apply_patch(target, ops)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise PatchError(str(exc))
    except (TypeError, KeyError, IndexError) as exc:
        raise PatchError("the json patch cannot be applied: %s" % exc)


def strategic_merge_patch(target, patch, path=()):
    """Apply a strategic merge patch to a dict, honouring merge keys and directives."""
    if not isinstance(patch, dict):
        raise PatchError("strategic merge patch must be an object")
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    orders = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list):
                result[name] = [x for x in result[name] if x not in (value or [])]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value, path + (key,))
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(result.get(key), value, key, path + (key,))
        else:
            result[key] = copy.deepcopy(value)
    for name, order in orders.items():
        if isinstance(result.get(name), list):
            result[name] = _order(result[name], order, _merge_key(name, path + (name,)))
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(orig, patch, name, path):
    mkey = _merge_key(name, path)
    orig = orig if isinstance(orig, list) else []
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return [copy.deepcopy(x) for x in patch if not (isinstance(x, dict) and x.get("$patch"))]
    if name in SET_LISTS:
        out = list(orig)
        for x in patch:
            if x not in out:
                out.append(copy.deepcopy(x))
        return out
    if not mkey:
        return [copy.deepcopy(x) for x in patch]
    out = [copy.deepcopy(x) for x in orig]
    for item in patch:
        if not isinstance(item, dict) or mkey not in item:
            raise PatchError("map: %r does not contain declared merge key: %s" % (item, mkey))
        idx = next((i for i, x in enumerate(out) if isinstance(x, dict) and x.get(mkey) == item[mkey]), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            merged = strategic_merge_patch({}, item, path)
            out.append(merged)
        else:
            out[idx] = strategic_merge_patch(out[idx], item, path)
    return out


def _order(items, order, mkey):
    if not mkey:
        return items
    wanted = [o.get(mkey) for o in order if isinstance(o, dict)]
    ranked = sorted(range(len(items)), key=lambda i: (
        wanted.index(items[i].get(mkey)) if isinstance(items[i], dict) and items[i].get(mkey) in wanted
        else len(wanted) + i))
    return [items[i] for i in ranked]


def strip_nulls(value):
    """Drop None values: a Go server never stores a null field."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value
