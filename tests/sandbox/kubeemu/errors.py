"""Errors answered as `kind: Status` bodies, worded like kube-apiserver's."""


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self):
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            body["details"] = self.details
        return body


def not_found(r, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (r.qualified, name),
                    {"name": name, "group": r.group, "kind": r.plural} if r.group else
                    {"name": name, "kind": r.plural})


def already_exists(r, name):
    return ApiError(409, "AlreadyExists", '%s "%s" already exists' % (r.qualified, name),
                    {"name": name, "group": r.group, "kind": r.plural} if r.group else
                    {"name": name, "kind": r.plural})


def conflict(r, name):
    return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the object has been modified; '
                    'please apply your changes to the latest version and try again' % (r.qualified, name),
                    {"name": name, "group": r.group, "kind": r.plural} if r.group else
                    {"name": name, "kind": r.plural})


def invalid(r, name, causes):
    """causes: list of (field, reason, message) as field.ErrorList renders them."""
    rendered = ["%s: %s" % (f, m) for f, _, m in causes]
    text = rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
    kind = "%s.%s" % (r.kind, r.group) if r.group else r.kind
    details = {"name": name, "kind": r.kind,
               "causes": [{"reason": reason, "message": m, "field": f} for f, reason, m in causes]}
    if r.group:
        details["group"] = r.group
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (kind, name, text), details)


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def method_not_allowed():
    return ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")


def unsupported_media(content_type, detail=None):
    message = ("the body of the request was in an unknown format - accepted media types include: "
               "application/json, application/yaml, application/vnd.kubernetes.protobuf")
    if detail:
        message += " (kubeemu reads protobuf only for Namespace, ConfigMap, Secret, autoscaling/v1 "\
                   "HorizontalPodAutoscaler, Eviction and DeleteOptions: %s; send JSON instead, e.g. "\
                   "kubectl create -f / apply -f)" % detail
    return ApiError(415, "UnsupportedMediaType", message)


def unsupported_patch(content_type):
    return ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted "
                    "media types include: application/json-patch+json, application/merge-patch+json, "
                    "application/apply-patch+yaml, application/strategic-merge-patch+json (got %r)" % content_type)
