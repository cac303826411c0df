"""The augmentation recipe a project keeps (edited in the window's *Augmentation recipe* area): the recipe of its
runs when none is named, in the window and on the command line alike."""

from __future__ import annotations

from dmtl_studio.core.augment.recipe import Recipe
from dmtl_studio.core.augment.registry import RecipeError
from dmtl_studio.core.project.store import ProjectStore

#: The project meta key holding the recipe as JSON (:meth:`Recipe.to_json`).
RECIPE_KEY = "recipe"


def project_recipe(store: ProjectStore) -> tuple[Recipe | None, str | None]:
    """The recipe ``store``'s project keeps, or ``None`` when it keeps none (its runs use the default of its kind);
    and, when the one it keeps cannot be used (damaged, from a newer version, of the other kind), why — it is then
    ``None`` too."""
    text = store.get_meta(RECIPE_KEY)
    if not text:
        return None, None
    try:
        recipe = Recipe.from_json(text)
        if recipe.kind != store.kind:
            raise RecipeError(f"it is a recipe for {recipe.kind}, and this project holds {store.kind}")
    except RecipeError as exc:
        return None, f"The project's stored recipe was not used — {exc}"
    return recipe, None


def keep_project_recipe(store: ProjectStore, recipe: Recipe) -> None:
    """Keep ``recipe`` as ``store``'s project's recipe."""
    store.set_meta(RECIPE_KEY, recipe.to_json())
