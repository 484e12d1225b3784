/** A binary max-heap ordered by `key`. Small on purpose: placement is its only user. */
export class MaxHeap<T> {
  private readonly items: { key: number; value: T }[] = [];

  get size(): number {
    return this.items.length;
  }

  push(key: number, value: T): void {
    const items = this.items;
    items.push({ key, value });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((items[parent] as { key: number }).key >= key) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  peek(): { key: number; value: T } | undefined {
    return this.items[0];
  }

  pop(): { key: number; value: T } | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let largest = i;
        if (l < items.length && items[l]!.key > items[largest]!.key) largest = l;
        if (r < items.length && items[r]!.key > items[largest]!.key) largest = r;
        if (largest === i) break;
        [items[i], items[largest]] = [items[largest]!, items[i]!];
        i = largest;
      }
    }
    return top;
  }
}
