"""AWX's survey rules, written from AWX's source, for the tests of extensions/aap/ and of AWX-typed runs.

- `spec_errors(spec)`: what POST /api/v2/job_templates/N/survey_spec/ refuses, from
  awx/api/views/__init__.py `JobTemplateSurveySpec._validate_spec_data` (ansible/awx): name, description
  and a non-empty spec list; every question a dict with `type`, `question_name`, `variable` (strings) and
  `required` (a boolean); no duplicate variable; type one of ALLOWED_TYPES; a default of the type's Python
  type (str for text/textarea/password/multiplechoice/multiselect, int for integer, float for float: an
  int default of a float question is refused); `min`/`max` None or int; multiplechoice/multiselect have
  `choices`, a multiplechoice at most one default, every default among the choices; `$encrypted$` defaults
  only on password questions. AWX does not check variable names on the API; the UI refuses whitespace
  (awx/ui SurveyQuestionForm), and Ansible takes only identifiers as variables (ansible.utils.vars.isidentifier),
  so both are checked, and names AWX itself injects (awx_*, tower_*) are refused.
- `answer_errors(question, data)`: `SurveyJobTemplateMixin._survey_element_validation`
  (awx/main/models/mixins.py): text answers must be str and within min/max length, integer answers int
  (type() is int: a bool or "5" is refused), float answers int or float, multiplechoice answers among the
  choices, multiselect answers lists of choices; "required" only means the variable is present.
- `launch_extra_vars(template, answers)`: the extra vars a job gets, as `_update_unified_job_kwargs` and
  `_accept_or_ignore_variables` build them: the template's extra_vars, then each survey default that
  passes validation, then the launch answers; an answer outside the survey needs ask_variables_on_launch.
"""
from __future__ import annotations

import keyword
import re

ALLOWED_TYPES = {'text': str, 'textarea': str, 'password': str, 'multiplechoice': str, 'multiselect': str,
                 'integer': int, 'float': float}
_IDENTIFIER = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')


def _choices(question):
    choices = question.get('choices', [])
    return [c for c in choices.split('\n') if c.strip()] if isinstance(choices, str) else list(choices)


def _default_errors(idx, question):
    errors = []
    qtype, default = question['type'], question.get('default')
    if 'default' in question and default != '' and not isinstance(default, ALLOWED_TYPES[qtype]):
        errors.append('Default value %r in survey question %s expected to be %s.' % (default, idx, qtype))
    if qtype in ('multiplechoice', 'multiselect') and 'default' in question:
        defaults = default.splitlines() if isinstance(default, str) else default
        if qtype == 'multiplechoice' and len(defaults) > 1:
            errors.append('Multiple Choice (Single Select) can only have one default value (question %s).' % idx)
        if any(item not in _choices(question) for item in defaults):
            errors.append('Default choice must be answered from the choices listed (question %s).' % idx)
    if isinstance(default, str) and default.startswith('$encrypted$') and qtype != 'password':
        errors.append('$encrypted$ is a reserved keyword for password question defaults (question %s).' % idx)
    return errors


def _question_errors(idx, question, seen):
    if not isinstance(question, dict):
        return ['Survey question %s is not a json object.' % idx]
    for field, kind in (('type', str), ('question_name', str), ('variable', str), ('required', bool)):
        if field not in question:
            return ["'%s' missing from survey question %s" % (field, idx)]
        if not isinstance(question[field], kind):
            return ["'%s' in survey question %s expected to be %s." % (field, idx, kind.__name__)]
    errors = []
    variable = question['variable']
    if variable in seen:
        errors.append("'variable' '%s' duplicated in survey question %s." % (variable, idx))
    seen.add(variable)
    if not _IDENTIFIER.match(variable) or keyword.iskeyword(variable):
        errors.append("'variable' %r in survey question %s is not a valid Ansible variable name." % (variable, idx))
    if variable.startswith(('awx_', 'tower_')):
        errors.append("'variable' %r in survey question %s is a name AWX sets itself." % (variable, idx))
    if question['type'] not in ALLOWED_TYPES:
        return errors + ["'%s' in survey question %s is not one of the allowed question types." % (
            question['type'], idx)]
    errors.extend(_default_errors(idx, question))
    for key in ('min', 'max'):
        if question.get(key) is not None and not isinstance(question[key], int):
            errors.append('The %s limit in survey question %s expected to be integer.' % (key, idx))
    if question['type'] in ('multiplechoice', 'multiselect') and 'choices' not in question:
        errors.append('Survey question %s of type %s must specify choices.' % (idx, question['type']))
    return errors


def spec_errors(spec):
    """Every reason AWX's survey_spec endpoint would refuse `spec` (AWX stops at the first; all are listed)."""
    errors = []
    for field, kind in (('name', str), ('description', str), ('spec', list)):
        if field not in spec:
            errors.append("Field '%s' is missing from survey spec." % field)
        elif not isinstance(spec[field], kind):
            received = type(spec[field]).__name__
            errors.append("Expected %s for field '%s', received %s type." % (kind.__name__, field, received))
    if isinstance(spec.get('spec'), list) and not spec['spec']:
        errors.append("'spec' doesn't contain any items.")
    if errors:
        return errors
    seen = set()
    for idx, question in enumerate(spec['spec']):
        errors.extend(_question_errors(idx, question, seen))
    return errors


def _length_errors(question, value):
    errors = []
    if question.get('min') not in ('', None) and len(value) < int(question['min']):
        errors.append("'%s' value is too small (length is %s must be at least %s)."
                      % (question['variable'], len(value), question['min']))
    if question.get('max') not in ('', None) and len(value) > int(question['max']):
        errors.append("'%s' value is too large (must be no more than %s)." % (question['variable'], question['max']))
    return errors


def _range_errors(question, value, cast):
    errors = []
    if question.get('min') not in ('', None) and value < cast(question['min']):
        errors.append("'%s' value %s is too small (must be at least %s)." % (question['variable'], value,
                                                                             question['min']))
    if question.get('max') not in ('', None) and value > cast(question['max']):
        errors.append("'%s' value %s is too large (must be no more than %s)." % (question['variable'], value,
                                                                                 question['max']))
    return errors


def answer_errors(question, data, validate_required=True):
    """AWX's _survey_element_validation of one question against the launch data."""
    variable, qtype = question['variable'], question['type']
    if variable not in data:
        return ["'%s' value missing" % variable] if question['required'] and validate_required else []
    value = data[variable]
    # type() rather than isinstance(), as AWX does: True is not an integer answer
    # pylint: disable=unidiomatic-typecheck
    if qtype in ('textarea', 'text', 'password'):
        if type(value) is not str:
            return ["Value %r for '%s' expected to be a string." % (value, variable)]
        return _length_errors(question, value)
    if qtype == 'integer':
        if type(value) is not int:
            return ["Value %r for '%s' expected to be an integer." % (value, variable)]
        return _range_errors(question, value, int)
    if qtype == 'float':
        if type(value) not in (float, int):
            return ["Value %r for '%s' expected to be a numeric type." % (value, variable)]
        return _range_errors(question, value, float)
    if qtype == 'multiselect':
        if type(value) is not list:
            return ["'%s' value is expected to be a list." % variable]
        return ["Value %r for '%s' expected to be one of %s." % (item, variable, _choices(question))
                for item in value if item not in _choices(question)]
    if qtype == 'multiplechoice' and value not in _choices(question):
        return ["Value %r for '%s' expected to be one of %s." % (value, variable, _choices(question))]
    return []


def launch_extra_vars(template, answers):
    """The job's extra vars for a launch of `template` (a controller_templates item) with `answers`.

    Raises ValueError with AWX's messages when AWX would refuse the launch.
    """
    extra_vars = dict(template.get('extra_vars') or {})
    spec = template.get('survey_spec') or {}
    questions = spec.get('spec', []) if template.get('survey_enabled') else []
    defaults = {}
    for question in questions:
        default = question.get('default')
        if default is not None and not answer_errors(question, {question['variable']: default}):
            defaults[question['variable']] = default
    extra_vars.update(defaults)
    errors = []
    leftover = dict(answers)
    for question in questions:
        errors.extend(answer_errors(question, dict(defaults, **answers)))
        leftover.pop(question['variable'], None)
    if leftover and not template.get('ask_variables_on_launch'):
        errors.append('Variables %s are not allowed on launch.' % ', '.join(sorted(leftover)))
    if errors:
        raise ValueError('; '.join(errors))
    extra_vars.update(answers)
    return extra_vars
