"""Fail unless every JUnit report ran browser tests and skipped none of them."""

import sys
import xml.etree.ElementTree as ET

failed = False
for report in sys.argv[1:]:
    cases = ET.parse(report).getroot().iter("testcase")
    browser = [case for case in cases if ".e2e." in case.get("classname", "")]
    skipped = [case for case in browser if case.find("skipped") is not None]
    print(f"{report}: {len(browser)} browser tests, {len(skipped)} skipped")
    if not browser or skipped:
        failed = True
sys.exit(1 if failed else 0)
