import type { WorkflowRequest, WorkflowStepRequest } from './workflow-types.js';

/** A step's job fields, with `needs` limited to the ids of the steps declared before it. */
export type StepSpec<
  Tasks extends Record<string, unknown>,
  K extends keyof Tasks & string,
  Known extends string,
> = Omit<WorkflowStepRequest, 'id' | 'task' | 'payload' | 'needs'> & {
  task: K;
  payload?: Tasks[K];
  needs?: readonly Known[];
};

/**
 * What an id must also be: nothing more for a new one; for a literal already used, a shape no
 * string has, so the call does not compile. (An intersection, not a conditional type, so that
 * TypeScript still infers `Id` from the argument.) Once a dynamic id was used, nothing is known.
 */
type NewId<Id extends string, Known extends string> = string extends Known
  ? unknown
  : string extends Id
    ? unknown
    : Id extends Known
      ? { readonly 'step id is used already': Id }
      : unknown;

/**
 * Builds a workflow definition step by step, checked as it goes: a step may need only steps
 * declared before it, so the graph can have no cycle and no unknown need, and with literal ids
 * TypeScript refuses an unknown need or a reused id at compile time (a dynamic id is checked
 * when the step is added). `Tasks` maps task names to payload types, as `BatonClient`'s does.
 *
 * ```ts
 * const pages = [1, 2, 3].map((p) => `ocr-${p}` as const);
 * const body = defineWorkflow({ name: 'scan' })
 *   .step('extract', { task: 'demo.extract', payload: { pages: 3 } })
 *   .fanOut(pages, (id, i) => ({ task: 'demo.ocr', payload: { page: i + 1 }, needs: ['extract'] }))
 *   .step('index', { task: 'demo.index', needs: pages })
 *   .build();
 * await client.submitWorkflow(body);
 * ```
 */
export class WorkflowBuilder<Tasks extends Record<string, unknown>, Known extends string = never> {
  readonly #steps: WorkflowStepRequest[] = [];
  readonly #ids = new Set<string>();

  constructor(private readonly options: Omit<WorkflowRequest, 'steps'> = {}) {}

  /** Adds a step; throws on a reused id or a need not declared before it. */
  step<Id extends string, K extends keyof Tasks & string>(
    id: Id & NewId<Id, Known>,
    spec: StepSpec<Tasks, K, Known>,
  ): WorkflowBuilder<Tasks, Known | Id> {
    if (this.#ids.has(id)) throw new Error(`step id "${id}" is used twice`);
    for (const need of spec.needs ?? []) {
      if (!this.#ids.has(need)) throw new Error(`step "${id}" needs "${need}", which is not declared before it`);
    }
    const { needs, payload, ...rest } = spec;
    this.#steps.push({
      id,
      ...rest,
      ...(payload !== undefined && { payload }),
      ...(needs !== undefined && needs.length > 0 && { needs: [...needs] }),
    });
    this.#ids.add(id);
    return this as unknown as WorkflowBuilder<Tasks, Known | Id>;
  }

  /** Adds one step per id (a fan-out), each made by `spec` from its id and index. */
  fanOut<Id extends string, K extends keyof Tasks & string>(
    ids: readonly (Id & NewId<Id, Known>)[],
    spec: (id: Id, index: number) => StepSpec<Tasks, K, Known>,
  ): WorkflowBuilder<Tasks, Known | Id> {
    ids.forEach((id, i) => this.step<string, K>(id, spec(id, i)));
    return this as unknown as WorkflowBuilder<Tasks, Known | Id>;
  }

  /** The ids declared so far, in order. */
  get ids(): Known[] {
    return [...this.#ids] as Known[];
  }

  /** The JSON body of `POST /api/workflows` (`client.submitWorkflow` takes it). */
  build(): WorkflowRequest {
    if (this.#steps.length === 0) throw new Error('a workflow needs at least one step');
    return { ...this.options, steps: this.#steps.map((s) => ({ ...s })) };
  }
}

/** Starts a workflow definition: see {@link WorkflowBuilder}. */
export function defineWorkflow<Tasks extends Record<string, unknown> = Record<string, unknown>>(
  options: Omit<WorkflowRequest, 'steps'> = {},
): WorkflowBuilder<Tasks> {
  return new WorkflowBuilder<Tasks>(options);
}
