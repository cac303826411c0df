"""A text demo project made offline from built-in sentences: support tickets of three kinds.

Every sentence was written for the product, so the texts carry no licence of anyone else. The demo is a folder
of class folders of ``.txt`` files (and a few unlabelled ones at its root), imported like any other.
"""

from __future__ import annotations

from pathlib import Path

from dmtl_studio.core.base.fileio import atomic_write_bytes
from dmtl_studio.core.project.project_kind import create_project
from dmtl_studio.core.project.store import is_project
from dmtl_studio.core.project.text_import import import_texts
from dmtl_studio.core.project.text_summary import TextImportSummary

TICKETS: dict[str, tuple[str, ...]] = {
    "hardware": (
        "The printer on the second floor jams on every second page.",
        "My laptop battery drains from full to empty in under an hour.",
        "The screen flickers when I move the lid of the notebook.",
        "Pump 3 in the lab makes a grinding noise when it starts.",
        "The keyboard is missing the E key since this morning.",
        "The docking station no longer charges my laptop.",
        "The microscope camera shows a black image after the firmware update was rolled back.",
        "The centrifuge stops with an imbalance error even when it is empty.",
        "My mouse cursor jumps around; the optical sensor may be dirty.",
        "The badge reader at the main entrance does not react to any card.",
        "A fan in the server room rattles loudly and the rack runs hot.",
        "The projector in meeting room B shows everything in green.",
        "The barcode scanner beeps but does not send anything to the computer.",
        "My headset's microphone crackles during every call.",
        "The label printer prints blank labels after the roll was changed.",
    ),
    "software": (
        "The analysis program crashes when I open a file larger than two gigabytes.",
        "After the update the spreadsheet add-in no longer appears in the menu.",
        "The sample tracker shows yesterday's date on every new entry.",
        "I cannot log in to the electronic lab notebook; it says my session expired.",
        "Exporting the report to PDF produces an empty document.",
        "The search in the document system never finds files with umlauts in their names.",
        "The instrument software freezes at 80 percent when it saves a run.",
        "Email attachments over ten megabytes fail to send with a vague error.",
        "The statistics script gives different results on the new version of the library.",
        "The calendar invites arrive one hour late since the time change.",
        "The web form rejects every phone number that starts with a plus sign.",
        "The inventory app shows negative stock for items we have on the shelf.",
        "Autosave overwrote my changes with an older copy of the protocol.",
        "The VPN client disconnects every ten minutes on the home network.",
        "The backup job reports success but the folder on the server is empty.",
    ),
    "billing": (
        "We were invoiced twice for the same order of pipette tips.",
        "The credit note for the returned reagents has not arrived yet.",
        "Please change the billing address on our account to the new building.",
        "Our purchase order number is missing from the latest invoice.",
        "The quote said 400 euros but the invoice shows 460 euros.",
        "Can you split this invoice between two cost centres?",
        "The service contract renewal was charged before we signed it.",
        "We need a copy of the invoice from March for the audit.",
        "The payment reminder is wrong: we paid on the first of the month.",
        "Please add our VAT number to all future invoices.",
        "The shipping costs were charged although the order was collected.",
        "Our discount for academic customers was not applied this time.",
        "The currency on the invoice should be Swiss francs, not euros.",
        "Who can approve a refund for the cancelled training course?",
        "The annual licence fee went up without any notice to us.",
    ),
}

#: Texts without a label, for the consistency term and for labelling in the browser.
UNLABELLED = (
    "The instrument shows an error code E42 and the invoice for its repair is also wrong.",
    "Nothing works since this morning, please call me back.",
    "The new screen arrived but the order confirmation lists a different model.",
    "The program will not start after the computer was replaced.",
    "Who do I contact about the cost of the extra licence for the analysis software?",
    "The plate reader disconnects and the software then loses the measurement.",
)


def write_text_folder(folder: Path) -> Path:
    """Write ``folder/<class>/<class>_NN.txt`` for every class and the unlabelled texts loose in ``folder``."""
    for name, texts in TICKETS.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        for index, text in enumerate(texts, start=1):
            atomic_write_bytes(folder / name / f"{name}_{index:02d}.txt", text.encode("utf-8"), durable=False)
    for index, text in enumerate(UNLABELLED, start=1):
        atomic_write_bytes(folder / f"ticket_{index:02d}.txt", text.encode("utf-8"), durable=False)
    return folder


def create_text_demo_project(project_dir: Path) -> TextImportSummary | None:
    """Create the text demo project in ``project_dir`` unless it already exists (then ``None``)."""
    if is_project(project_dir):
        return None
    texts = write_text_folder(project_dir / "texts")
    with create_project(project_dir, kind="text") as store:
        summary = import_texts(store, texts, val_fraction=0.2, seed=0)
        store.set_meta("demo", "1")
    return summary
