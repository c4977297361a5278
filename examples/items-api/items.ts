/** The example's data: items that live in a location, some of them private. */
export interface Item {
  id: string;
  /** The organization (svcauth tenant) the item belongs to. */
  orgId: string;
  locationId: string;
  title: string;
  /** Private items need `items:read_private` at their location, on top of `items:read`. */
  private: boolean;
}

export function itemView(item: Item) {
  return { id: item.id, location_id: item.locationId, title: item.title, private: item.private };
}

export type ItemView = ReturnType<typeof itemView>;

/** Two public items and one private item per location: enough to see the rules at work. */
export function demoItems(orgId: string, locationIds: readonly string[]): Item[] {
  return locationIds.flatMap((locationId, index) => [
    {
      id: `item-${index + 1}-1`,
      orgId,
      locationId,
      title: `Reduce changeover time (${index + 1})`,
      private: false,
    },
    {
      id: `item-${index + 1}-2`,
      orgId,
      locationId,
      title: `Label the spare parts shelf (${index + 1})`,
      private: false,
    },
    {
      id: `item-${index + 1}-3`,
      orgId,
      locationId,
      title: `Supplier pricing review (${index + 1})`,
      private: true,
    },
  ]);
}
