"""Field mapping as configuration: a department's columns and codes to standard records.

A mapping file (YAML) is the only place a department's shapes are known. Reference::

    kind: case                      # case | item | material | license
    timezone: "+08:00"              # naive source times are in this zone (default +08:00;
                                    #   an IANA name such as Asia/Shanghai also works)
    encoding: gbk                   # file payloads: utf-8 (default), gbk, gb18030
    code_tables:                    # the department's codes -> the standard's codes
      dept_states: {01: "1", 02: "3", 09: "11", 10: "13"}
    fields:                         # target: a standard field path (dots nest)
      source_system: SZ-MARKET                          # a plain value is a constant
      dept_case_no: {from: CASE_NO, transforms: [trim, halfwidth]}
      applicant.id_number: {from: SQR_ZJHM, transforms: [trim, strip_separators, upper]}
      accepted_at: {from: SLSJ, datetime: ["%Y-%m-%d %H:%M:%S", "%Y年%m月%d日 %H时%M分"]}
      promised_limit_days: {from: CNSX, type: int, default: null}
      material_ids: {from: CLBH, split: ","}
      events:                       # a list of records from child rows ...
        rows: events
        fields: {state: {from: ZT, code_table: dept_states}, at: {from: SJ}}
      # ... or from columns of the same row (an entry whose sources are all empty is
      # skipped):  events: {from_columns: [{state: "1", at: {from: JJSJ}}, ...]}

Field options: ``from`` (a source column; dots walk into nested objects of JSON/XML
rows, ``@name`` is an XML attribute), ``const``, ``default`` (used when the value is empty
or the column is absent), ``transforms`` (trim, halfwidth, upper, lower,
strip_separators, none_if_empty — applied in order), ``code_table``, ``date`` /
``datetime`` (one format or a list; ``iso`` for ISO 8601; Chinese formats work, with
one- or two-digit parts and full-width digits), ``type`` (int, str, bool, decimal),
``split`` (a separator: one text value into a list). A list of plain values from child
rows uses ``rows`` with ``value: {from: …}`` instead of ``fields``.

Rules that matter when writing one:

- plain YAML scalars stay text: ``01`` is the code "01", ``no`` is "no";
- an empty source value (NULL, ``""``) means no value; a column absent from the row is a
  ``mapping.missing`` finding unless the field has a ``default``;
- date-time fields without ``datetime`` accept ISO 8601 text and driver datetimes;
  naive values get ``timezone``; values with an offset keep it;
- ``Mapping.load`` checks the whole file against the record model before any row is read
  and raises :class:`~adapters.sdk.ConfigError` listing every problem with its path.
"""

from adapters.mapping.engine import ChildSpec, Mapping

__all__ = ["ChildSpec", "Mapping"]
