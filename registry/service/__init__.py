"""The registry's service layer: functions taking an explicit session and
keyword arguments. They flush but never commit; the caller's unit of work commits.

Other packages read licences through `reads` (`get`, `get_or_raise`,
`list_for_holder`, `status`) and never write them.
"""
