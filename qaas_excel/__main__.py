"""python -m qaas_excel"""

from qaas_excel.cli import main

main()
